from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from core.api.schema import error_responses

from . import selectors
from .models import Course


class CourseOutput(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.name")
    price = serializers.IntegerField(help_text="In fen (1 yuan = 100 fen).")

    class Meta:
        model = Course
        fields = ["slug", "title", "summary", "description", "price", "currency", "merchant"]


@extend_schema_view(get=extend_schema(responses={200: CourseOutput(many=True), **error_responses(404)}))
class CourseListApi(generics.ListAPIView):
    """Published courses, newest first."""

    permission_classes = [AllowAny]
    serializer_class = CourseOutput

    def get_queryset(self):
        return selectors.course_list_published()


@extend_schema_view(get=extend_schema(responses={200: CourseOutput, **error_responses(404)}))
class CourseDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = CourseOutput
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.course_list_published()
