import pytest
from django.contrib.auth.models import Group

from courses import roles
from orders.services import order_checkout
from payments.services import payment_start
from tests.factories import CourseFactory, MerchantFactory, MerchantStaffFactory, UserFactory


@pytest.fixture
def role_group(db):
    """The role groups come from the post_migrate handler: they must already exist."""

    def get(name):
        return Group.objects.get(name=name)

    return get


@pytest.fixture
def own_merchant(db):
    return MerchantFactory(name="Our Studio")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Rival Academy")


@pytest.fixture
def merchant_user(own_merchant, role_group):
    user = MerchantStaffFactory(merchant=own_merchant)
    user.groups.add(role_group(roles.MERCHANT))
    return user


@pytest.fixture
def staff_in(role_group):
    """A platform staff user in one role group (support or finance)."""

    def make(role):
        user = UserFactory(username=f"{role}-user", is_staff=True)
        user.groups.add(role_group(role))
        return user

    return make


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def own_course(own_merchant):
    return CourseFactory(merchant=own_merchant, title="Ours: Rust 入门", slug="ours-rust", price=9900)


@pytest.fixture
def other_course(other_merchant):
    return CourseFactory(
        merchant=other_merchant, title="Theirs: Secret Recipe", slug="theirs-secret", price=4900
    )


@pytest.fixture
def pay(sandbox):
    """Buy ``course`` as ``learner`` through the services and the sandbox webhook."""

    def buy(learner, course):
        order = order_checkout(learner=learner, course_slug=course.slug).order
        payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
        assert sandbox.pay(payment).status_code == 204
        order.refresh_from_db()
        payment.refresh_from_db()
        return order, payment

    return buy
