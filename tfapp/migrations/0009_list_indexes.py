"""Indexes that read each list of transfers newest first (tfapp.models.NewestVisible).

They replace the single-column indexes on ``visitor`` and ``shared``, which they begin with
or cover.
"""
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tfapp', '0008_content_sizes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='transfer',
            name='shared',
            field=models.BooleanField(default=False, verbose_name='shared in the public gallery'),
        ),
        migrations.AlterField(
            model_name='transfer',
            name='visitor',
            field=models.CharField(blank=True, help_text='The anonymous browser session that created it, until its user signs in.', max_length=64),
        ),
        migrations.AddIndex(
            model_name='transfer',
            index=models.Index(fields=['owner', 'status', 'created_at'], name='transfer_owner_newest'),
        ),
        migrations.AddIndex(
            model_name='transfer',
            index=models.Index(fields=['visitor', 'status', 'created_at'], name='transfer_visitor_newest'),
        ),
        migrations.AddIndex(
            model_name='transfer',
            index=models.Index(condition=models.Q(('shared', True)), fields=['status', 'created_at'], name='transfer_shared_newest'),
        ),
    ]
