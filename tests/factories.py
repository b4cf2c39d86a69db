from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from courses.models import Course, Lesson, Merchant, MerchantMember


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"learner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-learner-123")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Creator Studio {n}")
    slug = factory.Sequence(lambda n: f"studio-{n}")


class MerchantStaffFactory(UserFactory):
    """A staff user belonging to a merchant (in the "merchant" group when it exists)."""

    username = factory.Sequence(lambda n: f"merchant-staff{n}")
    is_staff = True

    @factory.post_generation
    def merchant(self, create, extracted, **kwargs):
        if not create:
            return
        MerchantMember.objects.create(user=self, merchant=extracted or MerchantFactory())


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    merchant = factory.SubFactory(MerchantFactory)
    title = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    summary = "Learn something useful."
    price = 9900
    status = Course.Status.PUBLISHED


class LessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesson

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Lesson {n}")
    position = factory.Sequence(int)
    body = factory.Sequence(lambda n: f"Secret content of lesson {n}.")


class CouponFactory(factory.django.DjangoModelFactory):
    """A platform code coupon, 10.00 yuan off every course, 100 of them, one per learner."""

    class Meta:
        model = "promotions.Coupon"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Coupon {n}")
    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = "amount"
    amount_off = 1000
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    quantity = 100
    per_learner_limit = 1
    scope = "all"
    funded_by = "platform"

    @factory.post_generation
    def courses(self, create, extracted, **kwargs):
        if create and extracted:
            self.courses.set(extracted)
