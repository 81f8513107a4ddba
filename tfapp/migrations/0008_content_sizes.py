"""Record the photo's width and height on transfers stored without them.

Before 0008 a photo was stored from a nameless file, which Django skips when it
fills an ImageField's width and height; such a transfer had its photo opened each
time it was loaded.
"""
from django.core.files.images import get_image_dimensions
from django.db import migrations


def record_sizes(apps, schema_editor):
    Transfer = apps.get_model("tfapp", "Transfer")
    storage = Transfer._meta.get_field("content_image").storage
    rows = Transfer.objects.filter(content_width=None).exclude(content_image="").values_list("pk", "content_image")
    for pk, name in rows.iterator():
        try:
            with storage.open(name) as photo:
                width, height = get_image_dimensions(photo)
        except OSError:
            continue  # The photo is gone: nothing to read it from.
        if width:
            Transfer.objects.filter(pk=pk).update(content_width=width, content_height=height)


class Migration(migrations.Migration):

    dependencies = [
        ("tfapp", "0007_api_rate_counts"),
    ]

    operations = [
        migrations.RunPython(record_sizes, migrations.RunPython.noop),
    ]
