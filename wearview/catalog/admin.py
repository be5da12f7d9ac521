from django.contrib import admin

from wearview.catalog.models import ImageClassification, Product, ProductImage, Shop, Variant


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "plan",
        "installed_at",
        "uninstalled_at",
        "auto_generate",
        "publish_mode",
        "last_synced_at",
    ]
    list_filter = ["plan", "auto_generate", "publish_mode"]
    search_fields = ["domain", "name"]
    # Tokens are encrypted at rest and never shown, not even to staff.
    exclude = ["access_token", "refresh_token"]
    readonly_fields = [
        "access_token_expires_at",
        "refresh_token_expires_at",
        "installed_at",
        "uninstalled_at",
        "last_synced_at",
        "created_at",
        "updated_at",
    ]


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ["sku", "title", "selected_options", "position", "sellable"]
    readonly_fields = ["sku", "title", "selected_options", "position"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "handle", "shop", "product_type", "status", "shopify_updated_at"]
    list_filter = ["shop", "status", "product_type"]
    search_fields = ["title", "handle", "variants__sku", "shopify_id"]
    list_select_related = ["shop"]
    inlines = [VariantInline]
    show_full_result_count = False


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "product", "shop", "sellable"]
    list_filter = ["shop", "sellable"]
    search_fields = ["sku", "title", "product__title", "product__handle"]
    list_select_related = ["product", "shop"]


class ImageClassificationInline(admin.StackedInline):
    model = ImageClassification
    extra = 0
    readonly_fields = ["kind", "subtype", "confidence", "evidence", "classifier_version"]


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "product", "shop", "position", "origin", "kind", "error_code"]
    list_filter = ["shop", "origin", "classification__effective_kind", "error_code"]
    search_fields = ["product__title", "product__handle", "alt", "shopify_media_id"]
    list_select_related = ["product", "shop", "classification"]
    inlines = [ImageClassificationInline]

    @admin.display(description="kind", ordering="classification__effective_kind")
    def kind(self, obj: ProductImage) -> str:
        classification = getattr(obj, "classification", None)
        return classification.effective_kind if classification else "-"


@admin.register(ImageClassification)
class ImageClassificationAdmin(admin.ModelAdmin):
    list_display = ["image", "kind", "manual_kind", "effective_kind", "subtype", "confidence"]
    list_filter = ["effective_kind", "kind", "subtype"]
    search_fields = ["image__product__title", "image__product__handle"]
    list_select_related = ["image", "image__product"]
    readonly_fields = ["effective_kind", "classified_at"]
