"""Shops, their products, variants and images, and what each image shows."""

from django.db import models
from django.db.models.functions import Coalesce

from integrations.shopify.domains import validate_shop_domain
from wearview.crypto import EncryptedTextField


class ShopPlan(models.TextChoices):
    STANDARD = "standard", "Standard"
    ADVANCED = "advanced", "Advanced"
    PLUS = "plus", "Plus"


class PublishMode(models.TextChoices):
    MANUAL = "manual", "Manual approval"
    AUTO = "auto", "Automatic above a score"


class StrengthPreset(models.TextChoices):
    RETOUCH = "retouch", "Retouch"
    RESTYLE = "restyle", "Restyle"
    REIMAGINE = "reimagine", "Reimagine"


DEFAULT_DISCLOSURE_TEXT = "AI-generated image of a model wearing this product."


class Shop(models.Model):
    domain = models.CharField(max_length=255, unique=True, validators=[validate_shop_domain])
    name = models.CharField(max_length=255, blank=True)
    access_token = EncryptedTextField(blank=True, default="")
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token = EncryptedTextField(blank=True, default="")
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)
    plan = models.CharField(max_length=20, choices=ShopPlan.choices, default=ShopPlan.STANDARD)
    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    auth_failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When Shopify last rejected the shop's token; work stops."
    )
    auth_failure = models.CharField(max_length=500, blank=True)

    # The shop's own settings, edited by the store owner in the embedded app.
    strength_preset = models.CharField(
        max_length=20, choices=StrengthPreset.choices, default=StrengthPreset.RESTYLE
    )
    model_look = models.CharField(max_length=60, default="studio-neutral")
    pose = models.CharField(max_length=60, default="front-standing")
    scene = models.CharField(max_length=60, default="studio-white")
    auto_generate = models.BooleanField(
        default=False, help_text="Start generation for new products without a person involved."
    )
    publish_mode = models.CharField(
        max_length=10, choices=PublishMode.choices, default=PublishMode.MANUAL
    )
    auto_publish_min_score = models.FloatField(
        default=0.9, help_text="With automatic publishing, the lowest fidelity score published."
    )
    disclosure_text = models.CharField(max_length=512, default=DEFAULT_DISCLOSURE_TEXT)

    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    shopify_id = models.CharField(max_length=100, help_text="Global id, gid://shopify/Product/N.")
    handle = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=512, blank=True)
    body_html = models.TextField(blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, blank=True)
    shopify_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="updatedAt on Shopify; older webhook payloads are skipped."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the studio last classified the product's images and decided on jobs.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shop", "title"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="product_unique_per_shop"),
        ]
        indexes = [models.Index(fields=["shop", "handle"])]

    def __str__(self) -> str:
        return self.title or self.handle or self.shopify_id


class Variant(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="variants")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    shopify_id = models.CharField(max_length=100)
    sku = models.CharField(max_length=255, blank=True, db_index=True)
    title = models.CharField(max_length=255, blank=True)
    selected_options = models.JSONField(
        default=list, blank=True, help_text='List of {"name": ..., "value": ...} pairs.'
    )
    position = models.PositiveIntegerField(default=1)
    sellable = models.BooleanField(
        default=True, help_text="Only sellable variants decide whether a product needs photos."
    )

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="variant_unique_per_shop"),
        ]

    def __str__(self) -> str:
        return self.sku or self.title or self.shopify_id


class ImageOrigin(models.TextChoices):
    MERCHANT = "merchant", "Merchant"
    WEARVIEW = "wearview", "Published by WearView"


def product_image_path(instance: "ProductImage", filename: str) -> str:
    return f"shops/{instance.shop_id}/images/{instance.content_hash[:2]}/{filename}"


class ProductImage(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="images")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    shopify_media_id = models.CharField(max_length=100)
    url = models.TextField(blank=True)
    alt = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=1)
    variants = models.ManyToManyField(Variant, related_name="images", blank=True)
    stored = models.FileField(upload_to=product_image_path, max_length=500, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    origin = models.CharField(
        max_length=10, choices=ImageOrigin.choices, default=ImageOrigin.MERCHANT
    )
    media_status = models.CharField(
        max_length=20, blank=True, help_text="Shopify's media status: READY, PROCESSING, FAILED."
    )
    stored_from_url = models.TextField(
        blank=True, help_text="The url that `stored` was copied from; a new url means a new copy."
    )
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "shopify_media_id"], name="image_unique_per_shop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}#{self.position}"


class ImageKind(models.TextChoices):
    PRODUCT_ONLY = "product_only", "Product only"
    ON_MODEL = "on_model", "On model"


class ImageSubtype(models.TextChoices):
    FLAT_LAY = "flat_lay", "Flat lay"
    GHOST_MANNEQUIN = "ghost_mannequin", "Ghost mannequin"
    MANNEQUIN = "mannequin", "Mannequin"
    HANGER = "hanger", "Hanger"
    PACKSHOT = "packshot", "Packshot"
    FOLDED = "folded", "Folded"
    DETAIL = "detail", "Detail"
    ON_MODEL_FULL = "on_model_full", "On model, full"
    ON_MODEL_CROPPED = "on_model_cropped", "On model, cropped"
    ON_MODEL_BACK = "on_model_back", "On model, back"
    OTHER = "other", "Other"


class ImageClassification(models.Model):
    image = models.OneToOneField(
        ProductImage, on_delete=models.CASCADE, related_name="classification"
    )
    kind = models.CharField(max_length=20, choices=ImageKind.choices)
    subtype = models.CharField(max_length=20, choices=ImageSubtype.choices, blank=True)
    confidence = models.FloatField(default=0.0)
    evidence = models.JSONField(default=dict, blank=True)
    classifier_version = models.CharField(max_length=40, blank=True)
    classified_at = models.DateTimeField(auto_now=True)
    # A merchant's or operator's override always wins over the classifier.
    manual_kind = models.CharField(max_length=20, choices=ImageKind.choices, null=True, blank=True)
    manual_by = models.CharField(max_length=150, blank=True)
    manual_at = models.DateTimeField(null=True, blank=True)
    effective_kind = models.GeneratedField(
        expression=Coalesce("manual_kind", "kind"),
        output_field=models.CharField(max_length=20),
        db_persist=True,
    )

    class Meta:
        indexes = [models.Index(fields=["effective_kind"])]

    def __str__(self) -> str:
        return f"{self.image_id}: {self.effective_kind}"
