from django.contrib import admin
from django.utils.html import format_html

from .models import Transfer


def _thumbnail(field, alt):
    if not field:
        return "—"
    return format_html('<img src="{}" alt="{}" style="max-height:64px;max-width:96px;border-radius:4px">',
                       field.url, alt)


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """A read-only gallery of every transfer; deleting one deletes its files."""

    list_display = ("short_id", "content_preview", "style_preview", "result_preview", "status", "engine",
                    "result_size", "model_seconds", "created_at")
    list_display_links = ("short_id", "result_preview")
    list_filter = ("status", "engine", "created_at")
    search_fields = ("public_id", "error_message")
    date_hierarchy = "created_at"
    readonly_fields = ("content_preview", "style_preview", "result_preview")
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("public_id", "status", "error_message", "created_at", "finished_at")}),
        ("Images", {"fields": ("content_preview", "style_preview", "result_preview", "content_image",
                               "style_image", "result_image")}),
        ("Parameters", {"fields": ("engine", "max_size", "style_size", "style_pooling")}),
        ("Timings (seconds)", {"fields": ("preprocess_seconds", "model_seconds", "encode_seconds")}),
    )

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
