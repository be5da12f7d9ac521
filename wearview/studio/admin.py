"""The operators' review queue and the studio's other admin pages.

Every decision taken here goes through the review services, which move jobs through the state
machine. The admin never writes a job's state itself.
"""

import logging
import re
from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from wearview.catalog.models import Shop, StrengthPreset
from wearview.errors import WearViewError
from wearview.imaging.category import CATEGORIES
from wearview.studio import selectors, thumbnails
from wearview.studio.models import (
    Candidate,
    CandidateStatus,
    GenerationJob,
    JobState,
    JobTransition,
    Publication,
)
from wearview.studio.prompts import MODEL_LOOKS, POSES, SCENES
from wearview.studio.review import (
    candidate_approve,
    job_publish,
    job_regenerate,
    job_reject,
    job_withdraw,
)

logger = logging.getLogger(__name__)

# Errors a review service raises for a row it leaves unchanged; the action reports them.
EXPECTED_ERRORS = (WearViewError, ObjectDoesNotExist, ValueError)


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


class QueueFilter(admin.SimpleListFilter):
    """Waiting for review by default; the other choices show decided or older candidates."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("waiting", "Waiting for review"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
            ("all", "All candidates"),
        ]

    def choices(self, changelist):
        # The default is "waiting", so the "All" link of the base class must name its value.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def value(self):
        return super().value() or "waiting"

    def queryset(self, request, queryset):
        value = self.value()
        if value == "waiting":
            return selectors.candidates_waiting(queryset)
        if value == "approved":
            return queryset.filter(status=CandidateStatus.APPROVED)
        if value == "rejected":
            return queryset.filter(status=CandidateStatus.REJECTED)
        return queryset


class ShopFilter(admin.SimpleListFilter):
    """Every shop by domain, read without the encrypted token columns."""

    title = "shop"
    parameter_name = "shop"

    def lookups(self, request, model_admin):
        return [(str(pk), domain) for pk, domain in Shop.objects.values_list("pk", "domain")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(job__shop_id=self.value())
        return queryset


class JobStateFilter(admin.SimpleListFilter):
    title = "job state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return JobState.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(job__state=self.value())
        return queryset


class ScoreBandFilter(admin.SimpleListFilter):
    title = "score band"
    parameter_name = "score"

    def lookups(self, request, model_admin):
        bands = [(key, label) for key, (label, _, _) in selectors.SCORE_BANDS.items()]
        return bands + [("passed", "Passed the fidelity checks"), ("failed", "Failed a check")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "passed":
            return queryset.filter(passed=True)
        if value == "failed":
            return queryset.filter(passed=False)
        if value in selectors.SCORE_BANDS:
            return queryset.filter(selectors.score_band_filter(value))
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    """The garment category found when the job was prepared."""

    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return [(category, category.replace("_", " ")) for category in CATEGORIES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(job__prepared__category=self.value())
        return queryset


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Stored with each rejected candidate and in the job's history.",
    )


def _blank_first(choices: Iterable[str]) -> list[tuple[str, str]]:
    return [("", "keep the job's current setting")] + [(key, key) for key in choices]


class RegenerateForm(forms.Form):
    seeds = forms.CharField(
        required=False,
        help_text="Comma-separated integer seeds; empty moves every previous seed by 1000.",
    )
    preset = forms.ChoiceField(
        required=False,
        label="Strength preset",
        choices=[("", "keep the job's current setting")] + list(StrengthPreset.choices),
    )
    model_look = forms.ChoiceField(required=False, choices=_blank_first(MODEL_LOOKS))
    pose = forms.ChoiceField(required=False, choices=_blank_first(POSES))
    scene = forms.ChoiceField(required=False, choices=_blank_first(SCENES))

    def clean_seeds(self) -> list[int] | None:
        raw = self.cleaned_data["seeds"].strip()
        if not raw:
            return None
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError(
                f"Seeds must be integers separated by commas, got {raw!r}."
            ) from None


class ActionReport:
    """Counts what a bulk action changed and groups the rows it left alone by reason."""

    # Reasons that differ only in ids form one group, and the message shows the first of them.
    MAX_LISTED_IDS = 20

    def __init__(self) -> None:
        self.changed: list[int] = []
        self.skipped: dict[str, tuple[str, list[int]]] = {}

    def skip(self, key: int, reason: str) -> None:
        group = re.sub(r"\d+", "#", reason)
        self.skipped.setdefault(group, (reason, []))[1].append(key)

    def run(self, key: int, call: Callable[[], object]) -> bool:
        try:
            call()
        except EXPECTED_ERRORS as exc:
            self.skip(key, getattr(exc, "message", None) or str(exc))
            return False
        self.changed.append(key)
        return True

    def send(self, model_admin: admin.ModelAdmin, request: HttpRequest, verb: str, noun: str):
        count = len(self.changed)
        plural = noun if count == 1 else f"{noun}s"
        level = messages.SUCCESS if count else messages.WARNING
        model_admin.message_user(request, f"{count} {plural} {verb}.", level)
        for example, keys in self.skipped.values():
            listed = ", ".join(str(key) for key in keys[: self.MAX_LISTED_IDS])
            more = len(keys) - self.MAX_LISTED_IDS
            listed += f" and {more} more" if more > 0 else ""
            similar = f" ({len(keys) - 1} more for the same reason)" if len(keys) > 1 else ""
            model_admin.message_user(
                request,
                f"{len(keys)} not {verb} ({noun} {listed}): {example}{similar}",
                messages.WARNING,
            )


def _jobs_of(queryset: QuerySet[Candidate]) -> list[int]:
    return sorted(set(queryset.values_list("job_id", flat=True)))


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    """The review queue: one row per candidate image, waiting ones first by default."""

    list_display = [
        "pk",
        "images",
        "fidelity",
        "shop_domain",
        "product_title",
        "variant_sku",
        "preset",
        "seed",
        "strengths",
        "job_state",
        "status",
    ]
    list_display_links = ["pk"]
    list_filter = [
        QueueFilter,
        ShopFilter,
        JobStateFilter,
        ScoreBandFilter,
        CategoryFilter,
    ]
    search_fields = ["job__product__title", "job__product__handle", "job__variants__sku"]
    list_per_page = 100
    list_max_show_all = 500
    # Facet counts run one COUNT per filter choice over the whole queue; too slow at 100,000.
    show_facets = admin.ShowFacets.NEVER
    ordering = ["-pk"]
    actions = [
        "approve_candidates",
        "reject_jobs",
        "regenerate_jobs",
        "publish_jobs",
        "withdraw_jobs",
    ]
    change_form_template = "admin/studio/candidate/change_form.html"

    # Queries and permissions.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Candidate]:
        """Join what each row shows, so a page costs a fixed number of queries."""
        return selectors.review_queue()

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Candidates come from the GPU worker only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        """Candidates are kept as the record of what was generated."""
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        """Review actions need change permission; the detail page itself is read-only."""
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        """Anyone who may review may open a candidate's page."""
        return super().has_view_permission(request) or super().has_change_permission(request)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        """Publishing sends images to the store, so it needs the right to add publications."""
        return request.user.has_perm("studio.add_publication")

    def has_withdraw_permission(self, request: HttpRequest) -> bool:
        """Withdrawing removes a live image, so it needs change rights on publications."""
        return request.user.has_perm("studio.change_publication")

    # Columns. None of them may query: every value comes from the joined row or the prefetch.

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, candidate: Candidate) -> str:
        """Render the row's selection box directly: Django's checkbox widget, rendered through
        the template engine, took about half of a 100-row page's time."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select candidate {} for an action">',
            admin.helpers.ACTION_CHECKBOX_NAME,
            candidate.pk,
            candidate.pk,
        )

    def _image_url(self, candidate: Candidate, kind: str) -> str:
        if kind == thumbnails.KIND_CANDIDATE and candidate.thumbnail:
            # Stored when the candidate was recorded; served by storage without this process.
            url = candidate.thumbnail.url
            if url.startswith(("http://", "https://")):
                return url
        return reverse("admin:studio_candidate_image", args=[candidate.pk, kind])

    @admin.display(description="source / mask / candidate")
    def images(self, candidate: Candidate) -> str:
        kinds = [
            (thumbnails.KIND_SOURCE, "source photo"),
            (thumbnails.KIND_OVERLAY, "garment mask overlay"),
            (thumbnails.KIND_CANDIDATE, "candidate"),
        ]
        return format_html(
            '<div class="wv-thumbs">{}</div>',
            format_html_join(
                "",
                '<img src="{}" alt="{}" title="{}" loading="lazy" width="96">',
                ((self._image_url(candidate, kind), label, label) for kind, label in kinds),
            ),
        )

    @admin.display(description="fidelity", ordering="score")
    def fidelity(self, candidate: Candidate) -> str:
        badge = "pass" if candidate.passed else "fail"
        metrics = ", ".join(
            f"{name} {value:.3g}" if isinstance(value, (int, float)) else f"{name} {value}"
            for name, value in sorted((candidate.scores or {}).items())
        )
        return format_html(
            '<span class="wv-score">{}</span> <span class="wv-badge wv-{}">{}</span>'
            '<div class="wv-metrics">{}</div><div class="wv-reason">{}</div>',
            f"{candidate.score:.3f}",
            badge,
            badge,
            metrics,
            candidate.failure_reason,
        )

    @admin.display(description="shop", ordering="job__shop__domain")
    def shop_domain(self, candidate: Candidate) -> str:
        return candidate.job.shop.domain

    @admin.display(description="product", ordering="job__product__title")
    def product_title(self, candidate: Candidate) -> str:
        product = candidate.job.product
        return format_html("{}<br><small>{}</small>", product.title, product.handle)

    @admin.display(description="variant")
    def variant_sku(self, candidate: Candidate) -> str:
        variants = list(candidate.job.variants.all())
        if not variants:
            return "-"
        first = variants[0].sku or variants[0].title
        return first if len(variants) == 1 else f"{first} (+{len(variants) - 1})"

    @admin.display(description="preset", ordering="job__preset")
    def preset(self, candidate: Candidate) -> str:
        return candidate.job.preset

    @admin.display(description="garment / background strength")
    def strengths(self, candidate: Candidate) -> str:
        return f"{candidate.garment_strength:.2f} / {candidate.background_strength:.2f}"

    @admin.display(description="job state", ordering="job__state")
    def job_state(self, candidate: Candidate) -> str:
        return candidate.job.get_state_display()

    # Actions. Each goes through a review service per row and reports what it changed.

    @admin.action(description="Approve the selected candidates", permissions=["change"])
    def approve_candidates(self, request: HttpRequest, queryset: QuerySet[Candidate]) -> None:
        report = ActionReport()
        actor = _actor(request)
        approved_jobs: dict[int, int] = {}
        for candidate_id, job_id in sorted(queryset.values_list("pk", "job_id")):
            if job_id in approved_jobs:
                # One candidate per job is approved; a second one in the same selection would
                # only meet the state machine's refusal with a less helpful message.
                report.skip(
                    candidate_id,
                    f"candidate {approved_jobs[job_id]} of the same job {job_id} was approved "
                    f"by this action; a job publishes one candidate.",
                )
                continue
            if report.run(
                candidate_id,
                lambda pk=candidate_id: candidate_approve(candidate_id=pk, actor=actor),
            ):
                approved_jobs[job_id] = candidate_id
        report.send(self, request, "approved", "candidate")

    @admin.action(description="Reject the selected candidates' jobs", permissions=["change"])
    def reject_jobs(self, request: HttpRequest, queryset: QuerySet[Candidate]):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            report = ActionReport()
            reason = form.cleaned_data["reason"]
            actor = _actor(request)
            for job_id in _jobs_of(queryset):
                report.run(
                    job_id, lambda pk=job_id: job_reject(job_id=pk, actor=actor, reason=reason)
                )
            report.send(self, request, "rejected", "job")
            return None
        return self._intermediate(request, queryset, form, "reject_jobs", "Reject jobs")

    @admin.action(description="Regenerate the selected candidates' jobs", permissions=["change"])
    def regenerate_jobs(self, request: HttpRequest, queryset: QuerySet[Candidate]):
        form = RegenerateForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            report = ActionReport()
            options = {key: value or None for key, value in form.cleaned_data.items()}
            actor = _actor(request)
            for job_id in _jobs_of(queryset):
                report.run(
                    job_id,
                    lambda pk=job_id: job_regenerate(job_id=pk, actor=actor, **options),
                )
            report.send(self, request, "sent back for generation", "job")
            return None
        return self._intermediate(request, queryset, form, "regenerate_jobs", "Regenerate jobs")

    @admin.action(description="Publish the approved jobs", permissions=["publish"])
    def publish_jobs(self, request: HttpRequest, queryset: QuerySet[Candidate]) -> None:
        report = ActionReport()
        actor = _actor(request)
        for job_id in _jobs_of(queryset):
            report.run(job_id, lambda pk=job_id: job_publish(job_id=pk, actor=actor))
        report.send(self, request, "sent for publishing", "job")

    @admin.action(description="Withdraw the published images", permissions=["withdraw"])
    def withdraw_jobs(self, request: HttpRequest, queryset: QuerySet[Candidate]) -> None:
        report = ActionReport()
        actor = _actor(request)
        for job_id in _jobs_of(queryset):
            report.run(job_id, lambda pk=job_id: job_withdraw(job_id=pk, actor=actor))
        report.send(self, request, "sent for withdrawal", "job")

    def _intermediate(
        self,
        request: HttpRequest,
        queryset: QuerySet[Candidate],
        form: forms.Form,
        action: str,
        title: str,
    ) -> TemplateResponse:
        selected = list(queryset.values_list("pk", flat=True)[: self.list_max_show_all])
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "action": action,
            "selected": selected,
            "select_across": request.POST.get("select_across", "0"),
            "job_count": len(_jobs_of(queryset)),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/studio/candidate/action_form.html", context)

    # The detail page and the image view.

    def get_urls(self):
        urls = [
            path(
                "<int:candidate_id>/image/<str:kind>/",
                self.admin_site.admin_view(self.image_view),
                name="studio_candidate_image",
            ),
        ]
        return urls + super().get_urls()

    def image_view(self, request: HttpRequest, candidate_id: int, kind: str) -> HttpResponse:
        """Serve one review image of a candidate, making its cached thumbnail on first use."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        candidate = (
            Candidate.objects.select_related("job", "job__source_image")
            .filter(pk=candidate_id)
            .first()
        )
        if candidate is None:
            raise Http404(f"No candidate {candidate_id}.")
        try:
            key = thumbnails.image_key(kind=kind, candidate=candidate)
        except (thumbnails.ThumbnailUnavailable, ValueError) as exc:
            raise Http404(str(exc)) from None
        return thumbnails.storage_response(key)

    def get_fields(self, request, obj=None):
        return [
            "job",
            "round",
            "status",
            "seed",
            "garment_strength",
            "background_strength",
            "score",
            "passed",
            "failure_reason",
            "scores",
            "rank",
            "review_note",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        candidate = (
            selectors.review_queue()
            .prefetch_related("job__candidates")
            .filter(pk=object_id)
            .first()
        )
        extra = dict(extra_context or {})
        if candidate is not None:
            job = candidate.job
            extra.update(
                {
                    "candidate": candidate,
                    "job": job,
                    "history": selectors.job_history(job=job),
                    "parameters": sorted((job.parameters or {}).items()),
                    "prepared": sorted((job.prepared or {}).items()),
                    "scores": sorted((candidate.scores or {}).items()),
                    "source_url": self._image_url(candidate, thumbnails.KIND_SOURCE_FULL),
                    "candidate_url": self._image_url(candidate, thumbnails.KIND_CANDIDATE_FULL),
                    "overlay_url": self._image_url(candidate, thumbnails.KIND_OVERLAY),
                    "siblings": [
                        other for other in job.candidates.all() if other.round == job.round
                    ],
                    "waiting": job.state == JobState.IN_REVIEW
                    and candidate.round == job.round
                    and candidate.status == CandidateStatus.PENDING,
                }
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["pk", "shop", "candidate", "status", "shopify_media_id", "published_at"]
    list_filter = ["status", "shop"]
    search_fields = ["shopify_media_id", "idempotency_key"]
    list_select_related = ["shop", "candidate"]
    raw_id_fields = ["candidate"]
