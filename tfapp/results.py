"""A finished transfer's result as a download, for the result page and the API alike."""
from django.http import FileResponse


def result_file(transfer):
    """The result as an attachment: the PNG, or a clip's H.264 MP4 (its poster stays on the page)."""
    stem = f"stylized-{str(transfer.public_id)[:8]}"
    if transfer.result_clip:
        return FileResponse(transfer.result_clip.open("rb"), as_attachment=True, filename=f"{stem}.mp4",
                            content_type="video/mp4")
    return FileResponse(transfer.result_image.open("rb"), as_attachment=True, filename=f"{stem}.png",
                        content_type="image/png")
