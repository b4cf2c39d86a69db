from django.urls import path

from .api import CourseDetailApi, CourseListApi

urlpatterns = [
    path("courses/", CourseListApi.as_view(), name="course-list"),
    path("courses/<slug:slug>/", CourseDetailApi.as_view(), name="course-detail"),
]
