from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from apps.pipelines.models import Pipeline, PipelineVersion


def pipeline_list(request: HttpRequest) -> HttpResponse:
    return render(request, "pipelines/pipeline_list.html", {"pipelines": Pipeline.objects.all()})


def pipeline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    return render(request, "pipelines/pipeline_detail.html", {"pipeline": pipeline})


def version_detail(request: HttpRequest, pk: int, version_id) -> HttpResponse:
    version = get_object_or_404(PipelineVersion, pk=version_id, pipeline_id=pk)
    return render(request, "pipelines/version_detail.html", {"version": version})
