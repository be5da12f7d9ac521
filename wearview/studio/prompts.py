"""Prompts for generation, built from the shop's presets and the product's own attributes."""

from wearview.catalog.models import Product, Shop

MODEL_LOOKS = {
    "studio-neutral": "a professional fashion model with a neutral expression",
    "casual-smile": "a relaxed fashion model with a light smile",
    "editorial": "an editorial fashion model with a confident expression",
}
POSES = {
    "front-standing": "standing, facing the camera, arms relaxed",
    "three-quarter": "standing in a three-quarter turn",
    "walking": "walking towards the camera",
}
SCENES = {
    "studio-white": "plain white seamless studio background, soft even light",
    "studio-grey": "light grey studio background, soft key light",
    "street": "city street in daylight, shallow depth of field",
}
NEGATIVE_PROMPT = (
    "deformed, extra limbs, extra fingers, blurry, low quality, watermark, text artifacts, "
    "mannequin, cropped garment, changed garment, different pattern"
)

# Words of the product's options that describe how the garment looks, not its size.
_SIZE_OPTION_NAMES = {"size", "größe", "taille", "talla"}


def _choice(table: dict[str, str], key: str, setting: str) -> str:
    try:
        return table[key]
    except KeyError:
        raise ValueError(
            f"Unknown {setting} {key!r}; use one of {', '.join(sorted(table))}."
        ) from None


def build_prompt(
    *,
    shop: Shop,
    product: Product,
    option_values: list[str] | None = None,
    model_look: str | None = None,
    pose: str | None = None,
    scene: str | None = None,
) -> str:
    """Return the positive prompt for `product` with the shop's presets unless overridden."""
    look = _choice(MODEL_LOOKS, model_look or shop.model_look, "model look")
    stance = _choice(POSES, pose or shop.pose, "pose")
    setting = _choice(SCENES, scene or shop.scene, "scene")
    garment = product.title.strip() or product.product_type.strip() or "garment"
    details = [value for value in (option_values or []) if value]
    described = f"{', '.join(details)} {garment}" if details else garment
    return (
        f"photo of {look} wearing the {described}, {stance}, {setting}, "
        f"full garment visible, photorealistic, high detail"
    )


def visual_option_values(selected_options: list[dict]) -> list[str]:
    """Return option values that describe looks (colour, pattern), leaving out sizes."""
    values = []
    for option in selected_options or []:
        name = str(option.get("name", "")).strip().lower()
        if name and name not in _SIZE_OPTION_NAMES:
            values.append(str(option.get("value", "")).strip())
    return values
