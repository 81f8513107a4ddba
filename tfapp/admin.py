from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Prefetch
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import slugify

from . import engines, trained_styles, training_jobs
from .forms import TrainNetworkForm
from .models import ApiToken, StylePreset, TrainingRun, Transfer, TransferStyle
from .tasks import enqueue_training, rerun


def _thumbnail(field, alt):
    if not field:
        return "—"
    return format_html('<img src="{}" alt="{}" class="admin-thumb">', field.url, alt)


class ThumbnailMedia:
    css = {"all": ["tfapp/css/admin.css"]}


class TransferStyleInline(admin.TabularInline):
    model = TransferStyle
    fields = ("preview", "position", "weight", "preset", "image")
    readonly_fields = fields
    extra = 0

    @admin.display(description="Style")
    def preview(self, style):
        return _thumbnail(style.preview, "style")


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    """The preset library shown on the upload page."""

    Media = ThumbnailMedia
    list_display = ("preview", "name", "artist", "year", "licence", "cached_vectors")
    list_display_links = ("preview", "name")
    search_fields = ("name", "artist")
    fields = ("name", "artist", "year", "licence", "image", "preview", "cached_vectors")
    readonly_fields = ("preview", "cached_vectors")
    actions = ["train_network"]

    @admin.action(description="Train a dedicated network…")
    def train_network(self, request, queryset):
        """Asks for a name, a photos folder, steps and size, then queues training in the slow queue."""
        if queryset.count() != 1:
            self.message_user(request, "Choose one preset to train a network for.", level="warning")
            return None
        preset = queryset.get()
        form = TrainNetworkForm(request.POST if "apply" in request.POST else None,
                                initial={"name": slugify(preset.name)[:40]})
        if form.is_valid():
            run = TrainingRun.objects.create(preset=preset, **form.cleaned_data)
            enqueue_training(run.pk)
            self.message_user(request, f"Queued training of {trained_styles.method_name(run.name)}; follow it under Training runs.")
            return None
        return TemplateResponse(request, "admin/tfapp/train_network.html", {
            **self.admin_site.each_context(request), "title": f"Train a network for {preset.name}",
            "form": form, "preset": preset, "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME})

    @admin.display(description="Preview")
    def preview(self, preset):
        return _thumbnail(preset.thumbnail or preset.image, preset.name)

    @admin.display(description="Stored style vectors")
    def cached_vectors(self, preset):
        return ", ".join(sorted(preset.style_vectors)) or "—"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Users' API tokens: staff can see and revoke them, never read them (only hashes are stored)."""

    list_display = ("name", "user", "hint", "created_at", "last_used_at")
    search_fields = ("name", "user__username")
    readonly_fields = ("user", "name", "hint", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """A read-only gallery of every transfer; deleting one deletes its files."""

    Media = ThumbnailMedia
    list_display = ("short_id", "content_preview", "style_preview", "result_preview", "status", "method_label",
                    "engine", "shared", "owner", "result_size", "attempts", "waited", "ran", "created_at")
    list_display_links = ("short_id", "result_preview")
    list_filter = ("status", "method", "queue", "engine", "shared", ("content_clip", admin.EmptyFieldListFilter),
                   "created_at")
    search_fields = ("public_id", "error_message")
    date_hierarchy = "created_at"
    readonly_fields = ("content_preview", "style_preview", "result_preview", "waited", "ran")
    actions = ["rerun_selected"]
    inlines = [TransferStyleInline]
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("public_id", "status", "error_message", "client")}),
        ("Owner", {"fields": ("owner", "visitor", "shared")}),
        ("Queue", {"fields": ("queue", "created_at", "queued_at", "started_at", "heartbeat_at", "finished_at",
                              "attempts", "worker", "waited", "ran", "progress", "progress_steps")}),
        ("Images", {"fields": ("content_preview", "result_preview", "content_image", "result_image")}),
        ("Clip", {"fields": ("content_clip", "result_clip", "frames_total", "frames_done", "consistency"),
                  "description": "A clip's transfer: the photo is its first frame and the result image its poster."}),
        ("Parameters", {"fields": ("method", "quality", "engine", "max_size", "style_size", "style_pooling",
                                   "strength", "preserve_colours")}),
        ("Regions", {"fields": ("regions_mask", "region_styles", "feather")}),
        ("Timings (seconds)", {"fields": ("preprocess_seconds", "model_seconds", "encode_seconds")}),
    )

    @admin.action(description="Re-run selected failed or cancelled transfers")
    def rerun_selected(self, request, queryset):
        stopped = queryset.filter(status__in=(Transfer.Status.FAILED, Transfer.Status.CANCELLED))
        count = sum(rerun(transfer) for transfer in stopped)
        self.message_user(request, f"Queued {count} transfer(s) again.")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("styles", TransferStyle.objects.shown()))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Id", ordering="public_id")
    def short_id(self, transfer):
        return str(transfer.public_id)[:8]

    @admin.display(description="Photo")
    def content_preview(self, transfer):
        return _thumbnail(transfer.content_preview, "photo")

    @admin.display(description="Style")
    def style_preview(self, transfer):
        style = transfer.first_style
        return _thumbnail(style.preview if style else None, "style")

    @admin.display(description="Result")
    def result_preview(self, transfer):
        return _thumbnail(transfer.result_preview, "result")

    @admin.display(description="Method", ordering="method")
    def method_label(self, transfer):
        return engines.label(transfer.method, transfer.quality)

    @admin.display(description="Size")
    def result_size(self, transfer):
        return f"{transfer.result_width}×{transfer.result_height}" if transfer.result_width else "—"

    @admin.display(description="Waited")
    def waited(self, transfer):
        return f"{transfer.wait_seconds:.1f} s" if transfer.wait_seconds is not None else "—"

    @admin.display(description="Ran")
    def ran(self, transfer):
        return f"{transfer.run_seconds:.1f} s" if transfer.run_seconds is not None else "—"


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    """Style networks training in slow-queue workers: progress, losses, the latest validation image, failures."""

    Media = ThumbnailMedia
    list_display = ("name", "preset", "status", "progress", "loss_terms", "validation_preview", "error_message",
                    "attempts", "created_at")
    list_filter = ("status",)
    actions = ["cancel_selected"]
    fields = ("name", "preset", "photos", "steps", "size", "batch", "status", "error_message", "progress",
              "loss_terms", "validation_preview", "attempts", "worker", "created_at", "started_at", "heartbeat_at",
              "finished_at")
    readonly_fields = fields

    @admin.action(description="Cancel selected training runs")
    def cancel_selected(self, request, queryset):
        count = sum(training_jobs.cancel(run) for run in queryset)
        self.message_user(request, f"Cancelled {count} training run(s); a running one stops at its next step.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Step")
    def progress(self, run):
        return f"{run.step} / {run.steps}"

    @admin.display(description="Losses")
    def loss_terms(self, run):
        return ", ".join(f"{name} {value:.4g}" for name, value in run.losses.items()) or "—"

    @admin.display(description="Validation image")
    def validation_preview(self, run):
        return _thumbnail(run.validation_image, "validation image")
