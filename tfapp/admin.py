from django.contrib import admin
from django.utils.html import format_html

from .models import Transfer
from .tasks import rerun


def _thumbnail(field, alt):
    if not field:
        return "—"
    return format_html('<img src="{}" alt="{}" style="max-height:64px;max-width:96px;border-radius:4px">',
                       field.url, alt)


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """A read-only gallery of every transfer; deleting one deletes its files."""

    list_display = ("short_id", "content_preview", "style_preview", "result_preview", "status", "engine",
                    "result_size", "attempts", "waited", "ran", "created_at")
    list_display_links = ("short_id", "result_preview")
    list_filter = ("status", "engine", "created_at")
    search_fields = ("public_id", "error_message")
    date_hierarchy = "created_at"
    readonly_fields = ("content_preview", "style_preview", "result_preview", "waited", "ran")
    actions = ["rerun_selected"]
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("public_id", "status", "error_message", "client")}),
        ("Queue", {"fields": ("created_at", "queued_at", "started_at", "heartbeat_at", "finished_at", "attempts", "worker",
                              "waited", "ran")}),
        ("Images", {"fields": ("content_preview", "style_preview", "result_preview", "content_image",
                               "style_image", "result_image")}),
        ("Parameters", {"fields": ("engine", "max_size", "style_size", "style_pooling")}),
        ("Timings (seconds)", {"fields": ("preprocess_seconds", "model_seconds", "encode_seconds")}),
    )

    @admin.action(description="Re-run selected failed transfers")
    def rerun_selected(self, request, queryset):
        count = sum(rerun(transfer) for transfer in queryset.filter(status=Transfer.Status.FAILED))
        self.message_user(request, f"Queued {count} transfer(s) again.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Id", ordering="public_id")
    def short_id(self, transfer):
        return str(transfer.public_id)[:8]

    @admin.display(description="Photo")
    def content_preview(self, transfer):
        return _thumbnail(transfer.content_thumbnail, "photo")

    @admin.display(description="Style")
    def style_preview(self, transfer):
        return _thumbnail(transfer.style_thumbnail, "style")

    @admin.display(description="Result")
    def result_preview(self, transfer):
        return _thumbnail(transfer.result_thumbnail, "result")

    @admin.display(description="Size")
    def result_size(self, transfer):
        return f"{transfer.result_width}×{transfer.result_height}" if transfer.result_width else "—"

    @admin.display(description="Waited")
    def waited(self, transfer):
        return f"{transfer.wait_seconds:.1f} s" if transfer.wait_seconds is not None else "—"

    @admin.display(description="Ran")
    def ran(self, transfer):
        return f"{transfer.run_seconds:.1f} s" if transfer.run_seconds is not None else "—"
