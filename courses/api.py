from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from . import selectors
from .models import Course


class CourseOutput(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.name")
    price = serializers.IntegerField(help_text="In fen (1 yuan = 100 fen).")

    class Meta:
        model = Course
        fields = ["slug", "title", "summary", "description", "price", "currency", "merchant"]


class CourseListApi(generics.ListAPIView):
    """Published courses, newest first."""

    permission_classes = [AllowAny]
    serializer_class = CourseOutput

    def get_queryset(self):
        return selectors.course_list_published()


class CourseDetailApi(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = CourseOutput
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.course_list_published()
