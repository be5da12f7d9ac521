from django.contrib import admin

from wearview.studio.models import Candidate, GenerationJob, JobTransition, Publication


class JobTransitionInline(admin.TabularInline):
    model = JobTransition
    extra = 0
    can_delete = False
    fields = ["created_at", "from_state", "to_state", "actor", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        """History is written by the state machine only."""
        return False


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "shop",
        "product",
        "state",
        "preset",
        "round",
        "attempts",
        "progress_step",
        "progress_total",
        "state_changed_at",
    ]
    list_filter = ["state", "preset", "shop"]
    search_fields = ["product__title", "product__handle", "variants__sku"]
    list_select_related = ["shop", "product"]
    # The state only changes through the state machine, never by editing the field.
    readonly_fields = [
        "state",
        "state_changed_at",
        "failure_reason",
        "attempts",
        "approved_candidate",
    ]
    raw_id_fields = ["product", "source_image", "variants"]
    inlines = [JobTransitionInline]


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["pk", "job", "round", "seed", "garment_strength", "score", "passed", "status"]
    list_filter = ["status", "passed", "job__shop"]
    search_fields = ["job__product__title", "job__product__handle"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["pk", "shop", "candidate", "status", "shopify_media_id", "published_at"]
    list_filter = ["status", "shop"]
    search_fields = ["shopify_media_id", "idempotency_key"]
    list_select_related = ["shop", "candidate"]
    raw_id_fields = ["candidate"]
