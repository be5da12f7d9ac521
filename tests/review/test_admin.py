"""The operators' review queue in the Django admin."""

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_shop
from tests.review.conftest import job_in_review, published_job
from wearview.studio import thumbnails
from wearview.studio.models import Candidate, CandidateStatus, GenerationJob, JobState
from wearview.studio.services import job_transition

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:studio_candidate_changelist"


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator", "operator@example.test", "pw")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _action(client, action: str, candidates, **extra):
    data = {
        "action": action,
        "_selected_action": [candidate.pk for candidate in candidates],
        "index": 0,
        **extra,
    }
    return client.post(reverse(CHANGELIST) + "?queue=all", data, follow=True)


# The changelist.


def test_changelist_shows_thumbnails_scores_and_reason(operator_client, shop, media_root):
    built = job_in_review(shop, title="Ribbed tank")
    response = operator_client.get(reverse(CHANGELIST))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ribbed tank" in body
    for kind in (thumbnails.KIND_SOURCE, thumbnails.KIND_OVERLAY):
        url = reverse("admin:studio_candidate_image", args=[built.candidates[0].pk, kind])
        assert url in body
    assert 'class="wv-badge wv-pass"' in body
    assert 'class="wv-badge wv-fail"' in body
    assert "garment colour changed" in body
    assert "delta_e 2, ssim 0.93" in body
    assert shop.domain in body
    assert "0.06 / 0.50" in body


def test_changelist_default_shows_waiting_only(operator_client, shop, media_root):
    waiting = job_in_review(shop, title="Waiting blouse")
    decided = job_in_review(shop, title="Decided skirt")
    job_transition(job_id=decided.job.pk, to_state=JobState.REJECTED, actor="test")
    body = operator_client.get(reverse(CHANGELIST)).content.decode()
    assert "Waiting blouse" in body
    assert "Decided skirt" not in body
    everything = operator_client.get(reverse(CHANGELIST) + "?queue=all").content.decode()
    assert "Decided skirt" in everything
    assert reverse("admin:studio_candidate_change", args=[waiting.candidates[0].pk]) in body


@pytest.mark.parametrize(
    "query, shown, hidden",
    [
        ("score=high", "High score top", "Low score top"),
        ("score=poor", "Low score top", "High score top"),
        ("score=passed", "High score top", "Low score top"),
        ("category=dress", "Low score top", "High score top"),
        ("q=high-sku", "High score top", "Low score top"),
        ("q=low-score", "Low score top", "High score top"),
    ],
)
def test_changelist_filters_and_search(operator_client, shop, media_root, query, shown, hidden):
    high = job_in_review(shop, title="High score top", candidates=1, scores=(0.95,))
    low = job_in_review(shop, title="Low score top", candidates=1, scores=(0.3,), category="dress")
    high.job.variants.update(sku="HIGH-SKU-1")
    low.job.product.__class__.objects.filter(pk=low.job.product_id).update(handle="low-score-top")
    body = operator_client.get(f"{reverse(CHANGELIST)}?{query}").content.decode()
    assert shown in body
    assert hidden not in body


def test_changelist_filters_by_shop_and_state(operator_client, shop, media_root):
    other = make_shop()
    job_in_review(shop, title="First shop shirt")
    job_in_review(other, title="Second shop shirt")
    body = operator_client.get(
        f"{reverse(CHANGELIST)}?shop={other.pk}&state=in_review"
    ).content.decode()
    assert "Second shop shirt" in body
    assert "First shop shirt" not in body


def _changelist_queries(client, query: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{reverse(CHANGELIST)}?{query}")
    assert response.status_code == 200
    return len(captured.captured_queries), response.content.decode()


def test_changelist_query_count_constant(operator_client, shop, media_root):
    other = make_shop()
    for _ in range(5):
        job_in_review(shop, candidates=2, with_files=False)
    small, body = _changelist_queries(operator_client, "all=")
    assert body.count('name="_selected_action"') == 10
    for index in range(95):
        job_in_review(shop if index % 2 else other, candidates=2, with_files=False)
    large, body = _changelist_queries(operator_client, "all=")
    assert body.count('name="_selected_action"') == 200
    assert large == small
    filtered_small, _ = _changelist_queries(operator_client, "all=&score=high&q=Product")
    assert filtered_small == small


# Actions on mixed selections.


def test_action_approve_mixed_selection(operator_client, shop, media_root):
    first = job_in_review(shop)
    second = job_in_review(shop)
    job_transition(job_id=second.job.pk, to_state=JobState.REJECTED, actor="test")
    selection = [first.candidates[0], first.candidates[1], second.candidates[0]]
    response = _action(operator_client, "approve_candidates", selection)
    messages = _messages(response)
    assert messages[0] == "1 candidate approved."
    assert len(messages) == 3
    assert any(f"candidate {first.candidates[1].pk}" in text for text in messages[1:])
    assert any("'rejected'" in text for text in messages[1:])
    assert any("of the same job" in text for text in messages[1:])
    first.job.refresh_from_db()
    assert first.job.state == JobState.APPROVED
    assert first.job.approved_candidate_id == first.candidates[0].pk
    second.job.refresh_from_db()
    assert second.job.state == JobState.REJECTED


def test_action_report_groups_same_reason(operator_client, shop, media_root):
    decided = [job_in_review(shop, candidates=1) for _ in range(3)]
    for built in decided:
        job_transition(job_id=built.job.pk, to_state=JobState.REJECTED, actor="test")
    selection = [built.candidates[0] for built in decided]
    messages = _messages(_action(operator_client, "approve_candidates", selection))
    assert messages[0] == "0 candidates approved."
    assert len(messages) == 2
    assert messages[1].startswith("3 not approved (candidate ")
    assert messages[1].endswith("(2 more for the same reason)")


def test_action_reject_asks_for_reason_then_rejects(operator_client, shop, media_root):
    first = job_in_review(shop)
    approved = job_in_review(shop)
    job_transition(job_id=approved.job.pk, to_state=JobState.APPROVED, actor="test")
    selection = [first.candidates[0], first.candidates[1], approved.candidates[0]]
    form = _action(operator_client, "reject_jobs", selection)
    assert "Reject jobs" in form.content.decode()
    assert "from 2 jobs" in form.content.decode()
    first.job.refresh_from_db()
    assert first.job.state == JobState.IN_REVIEW

    response = _action(
        operator_client, "reject_jobs", selection, apply="Reject jobs", reason="bad hands"
    )
    messages = _messages(response)
    assert messages[0] == "1 job rejected."
    assert f"job {approved.job.pk}" in messages[1]
    first.job.refresh_from_db()
    assert first.job.state == JobState.REJECTED
    assert set(first.job.candidates.values_list("review_note", flat=True)) == {"bad hands"}
    assert first.job.transitions.last().reason == "bad hands"


def test_action_reject_requires_reason(operator_client, shop, media_root):
    built = job_in_review(shop)
    response = _action(operator_client, "reject_jobs", built.candidates, apply="Reject jobs")
    assert "This field is required" in response.content.decode()
    built.job.refresh_from_db()
    assert built.job.state == JobState.IN_REVIEW


def test_action_regenerate_mixed_selection(
    operator_client, shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    first = job_in_review(shop)
    published, _ = published_job(shop)
    selection = [first.candidates[0], published.candidates.first()]
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(
            operator_client,
            "regenerate_jobs",
            selection,
            apply="Regenerate jobs",
            seeds="7, 8",
            preset="retouch",
            pose="walking",
        )
    messages = _messages(response)
    assert messages[0] == "1 job sent back for generation."
    assert f"job {published.pk}" in messages[1]
    first.job.refresh_from_db()
    assert first.job.state == JobState.QUEUED
    assert first.job.round == 2
    assert first.job.preset == "retouch"
    assert first.job.parameters["seeds"] == [7, 8]
    assert "walking towards the camera" in first.job.prompt
    assert ("wearview.studio.tasks.prepare_job_task", [first.job.pk]) in sent_tasks


def test_action_regenerate_rejects_bad_seeds(operator_client, shop, media_root):
    built = job_in_review(shop)
    response = _action(
        operator_client, "regenerate_jobs", built.candidates, apply="Regenerate", seeds="a,b"
    )
    assert "Seeds must be integers" in response.content.decode()
    built.job.refresh_from_db()
    assert built.job.state == JobState.IN_REVIEW


def test_action_publish_mixed_selection(
    operator_client, shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    approved = job_in_review(shop)
    waiting = job_in_review(shop)
    from wearview.studio.review import candidate_approve

    candidate_approve(candidate_id=approved.candidates[0].pk, actor="test")
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(
            operator_client, "publish_jobs", [approved.candidates[0], waiting.candidates[0]]
        )
    messages = _messages(response)
    assert messages[0] == "1 job sent for publishing."
    assert f"job {waiting.job.pk}" in messages[1]
    approved.job.refresh_from_db()
    assert approved.job.state == JobState.PUBLISHING
    assert [name for name, _ in sent_tasks] == [
        "integrations.shopify.tasks.publish_publication_task"
    ]


def test_action_withdraw_mixed_selection(
    operator_client, shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    published, publication = published_job(shop)
    waiting = job_in_review(shop)
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(
            operator_client,
            "withdraw_jobs",
            [published.candidates.first(), waiting.candidates[0]],
        )
    messages = _messages(response)
    assert messages[0] == "1 job sent for withdrawal."
    assert "only a published job's image can be withdrawn" in messages[1]
    assert sent_tasks == [
        ("integrations.shopify.tasks.withdraw_publication_task", [publication.pk])
    ]


def test_actions_follow_permissions(client, shop, media_root):
    reviewer = User.objects.create_user("reviewer", password="pw", is_staff=True)
    reviewer.user_permissions.add(
        Permission.objects.get(codename="view_candidate"),
        Permission.objects.get(codename="change_candidate"),
    )
    client.force_login(reviewer)
    built = job_in_review(shop)
    from wearview.studio.review import candidate_approve

    candidate_approve(candidate_id=built.candidates[0].pk, actor="test")
    page = client.get(reverse(CHANGELIST) + "?queue=all").content.decode()
    assert 'value="approve_candidates"' in page
    assert 'value="publish_jobs"' not in page
    assert 'value="withdraw_jobs"' not in page
    response = _action(client, "publish_jobs", [built.candidates[0]])
    assert response.status_code == 200
    built.job.refresh_from_db()
    assert built.job.state == JobState.APPROVED

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_candidate"))
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="approve_candidates"' not in page


# The detail page and thumbnails.


def test_detail_page_shows_slider_history_and_parameters(operator_client, shop, media_root):
    built = job_in_review(shop)
    candidate = built.candidates[1]
    response = operator_client.get(reverse("admin:studio_candidate_change", args=[candidate.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="wv-slider"' in body
    assert reverse("admin:studio_candidate_image", args=[candidate.pk, "source-full"]) in body
    assert reverse("admin:studio_candidate_image", args=[candidate.pk, "candidate-full"]) in body
    for state in ("preparing", "generating", "in_review"):
        assert f"<td>{state}</td>" in body
    assert "guidance_scale" in body
    assert "garment colour changed" in body
    assert 'name="_save"' not in body


def test_image_view_caches_overlay_thumbnail(operator_client, shop, media_root, monkeypatch):
    built = job_in_review(shop)
    calls = []
    original = thumbnails.overlay_image
    monkeypatch.setattr(
        thumbnails, "overlay_image", lambda *args: calls.append(1) or original(*args)
    )
    url = reverse("admin:studio_candidate_image", args=[built.candidates[0].pk, "overlay"])
    first = operator_client.get(url)
    second = operator_client.get(
        reverse("admin:studio_candidate_image", args=[built.candidates[1].pk, "overlay"])
    )
    assert first.status_code == 200
    assert second.status_code == 200
    assert b"".join(first.streaming_content)[:2] == b"\xff\xd8"
    assert len(calls) == 1
    key = built.job.prepared["mask_key"].rsplit(".", 1)[0] + ".overlay.thumb.jpg"
    assert default_storage.exists(key)


def test_image_view_missing_mask_returns_404(operator_client, shop, media_root):
    built = job_in_review(shop)
    GenerationJob.objects.filter(pk=built.job.pk).update(prepared={})
    url = reverse("admin:studio_candidate_image", args=[built.candidates[0].pk, "overlay"])
    assert operator_client.get(url).status_code == 404
    bad_kind = reverse("admin:studio_candidate_image", args=[built.candidates[0].pk, "x"])
    assert operator_client.get(bad_kind).status_code == 404


def test_overlay_tints_only_mask_pixels():
    from PIL import Image

    canvas = Image.new("RGB", (4, 4), (0, 0, 0))
    mask = Image.new("L", (4, 4), 0)
    mask.putpixel((1, 1), 255)
    result = thumbnails.overlay_image(canvas, mask)
    assert result.getpixel((0, 0)) == (0, 0, 0)
    # 45 % of the tint colour (255, 0, 110) over black, truncated to integers.
    assert result.getpixel((1, 1)) == (114, 0, 49)


def test_candidate_statuses_unchanged_by_page_views(operator_client, shop, media_root):
    built = job_in_review(shop)
    operator_client.get(reverse(CHANGELIST))
    operator_client.get(reverse("admin:studio_candidate_change", args=[built.candidates[0].pk]))
    statuses = set(Candidate.objects.values_list("status", flat=True))
    assert statuses == {CandidateStatus.PENDING}
