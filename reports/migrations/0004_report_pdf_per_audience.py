import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """One stored PDF per audience (issue 16): the team's names who ended the campaign and holds the lessons, the
    benchmark and the feedback; a share link's follows its team-notes setting. The stored files are derived data
    (rendered again on the next download or by `report_pdfs_render`), so the old one-per-report table is dropped
    rather than converted."""

    dependencies = [
        ('reports', '0003_report_pdf'),
    ]

    operations = [
        migrations.DeleteModel(name='ReportPdf'),
        migrations.CreateModel(
            name='ReportPdf',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('audience', models.CharField(choices=[('team', 'The team (who ended it, the end note, lessons, benchmark, feedback)'), ('public', 'A share link without team notes'), ('public_notes', 'A share link with team notes (who ended it, the end note, lessons)')], default='team', max_length=20)),
                ('version', models.CharField(max_length=64)),
                ('content', models.BinaryField()),
                ('rendered_at', models.DateTimeField(auto_now=True)),
                ('report', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stored_pdfs', to='reports.closereport')),
            ],
            options={
                'verbose_name': 'report PDF',
                'verbose_name_plural': 'report PDFs',
                'constraints': [models.UniqueConstraint(fields=('report', 'audience'), name='reportpdf_one_per_audience')],
            },
        ),
    ]
