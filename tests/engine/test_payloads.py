import copy

import pytest

from wearview.engine.errors import PayloadError
from wearview.engine.payloads import candidate_key, parse_generation_request

VALID = {
    "job_id": 7,
    "round": 1,
    "shop_domain": "dev-store.myshopify.com",
    "source_key": "jobs/7/source.png",
    "mask_key": "jobs/7/mask.png",
    "strength_key": "jobs/7/strength.npy",
    "prompt": "a woman wearing a striped shirt",
    "negative_prompt": "",
    "preset": "restyle",
    "params": {
        "seeds": [1, 2],
        "strength_levels": [0.5, 0.4],
        "steps": 20,
        "guidance_scale": 6.5,
        "width": 512,
        "height": 640,
    },
}


def test_parse_generation_request_valid():
    request = parse_generation_request(copy.deepcopy(VALID))

    assert request.job_id == 7
    assert request.params.seeds == (1, 2)
    assert request.params.strength_levels == (0.5, 0.4)
    assert request.params.width == 512


def test_parse_generation_request_auto_levels():
    payload = copy.deepcopy(VALID)
    payload["params"]["strength_levels"] = "auto"

    assert parse_generation_request(payload).params.strength_levels == "auto"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("job_id",), "7", "job_id"),
        (("job_id",), 0, "job_id"),
        (("round",), None, "round"),
        (("shop_domain",), "", "shop_domain"),
        (("source_key",), "../etc/passwd", "source_key"),
        (("source_key",), "/abs/key.png", "source_key"),
        (("strength_key",), "jobs/7/strength.jpg", "strength_key"),
        (("prompt",), 5, "prompt"),
        (("params",), [], "params"),
        (("params", "seeds"), [], "params.seeds"),
        (("params", "seeds"), [1, -2], "params.seeds[1]"),
        (("params", "seeds"), [3, 3], "params.seeds"),
        (("params", "seeds"), [True], "params.seeds[0]"),
        (("params", "strength_levels"), [0.5, 1.5], "params.strength_levels[1]"),
        (("params", "strength_levels"), [0.0], "params.strength_levels[0]"),
        (("params", "strength_levels"), "max", "params.strength_levels"),
        (("params", "steps"), 0, "params.steps"),
        (("params", "steps"), 20.0, "params.steps"),
        (("params", "guidance_scale"), float("nan"), "params.guidance_scale"),
        (("params", "width"), 32, "params.width"),
        (("params", "height"), 4096, "params.height"),
    ],
)
def test_parse_generation_request_names_bad_field(path, value, field):
    payload = copy.deepcopy(VALID)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(PayloadError) as raised:
        parse_generation_request(payload)

    assert raised.value.field == field
    assert f"payload field {field!r}" in str(raised.value)


def test_parse_generation_request_missing_field():
    payload = copy.deepcopy(VALID)
    del payload["mask_key"]

    with pytest.raises(PayloadError, match="'mask_key': expected a string, got nothing"):
        parse_generation_request(payload)


def test_parse_generation_request_not_an_object():
    with pytest.raises(PayloadError, match="expected a JSON object, got list"):
        parse_generation_request([VALID])


def test_candidate_key_is_deterministic():
    assert candidate_key(7, 1, 42, 0.5) == "jobs/7/r1/seed42-s050.png"
    assert candidate_key(7, 0, 3, 1.0) == "jobs/7/r0/seed3-s100.png"
    assert candidate_key(7, 2, 3, 0.075) == "jobs/7/r2/seed3-s008.png"
