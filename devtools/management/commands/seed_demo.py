"""Demo data for a development machine: staff for every role, two merchants, courses,
a promoter programme with an approved promoter, and a few weeks of finance (settled
orders, some of them referred, statements, payouts).

Safe to run again: rows are matched by username and slug and brought back to the
demo state. A demo user's password is set only when the user is made: running it again
(every ``bin/dev``) logs nobody out, and keeps a password someone changed. Refuses to run
in production.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from courses import roles
from courses.models import Category, Course, Lesson, Merchant, MerchantMember
from devtools import promoter_demo
from devtools.demo_covers import demo_cover
from devtools.settlement_demo import seed_finance_demo
from memberships.models import Plan
from riskcontrol.models import Rule
from riskcontrol.services import rule_save

DEMO_PASSWORD = "kpay-demo"  # noqa: S105 - demo only, printed on purpose


# The catalogue's shelves: slug -> (name, position).
CATEGORIES = {
    "programming": ("编程 · Programming", 1),
    "data": ("数据 · Data", 2),
    "writing": ("写作 · Writing", 3),
    "photography": ("摄影 · Photography", 4),
}


@dataclass(frozen=True)
class DemoCourse:
    slug: str
    title: str
    summary: str
    price: int  # fen
    lessons: tuple[str, str, str]
    status: str = Course.Status.PUBLISHED
    category: str = ""
    hue: float = 0.6  # of the generated cover

    @property
    def description(self) -> str:
        return (
            f"本课程共 {len(self.lessons)} 节，按自己的节奏学习；第一节免费试看。\n\n"
            f"{len(self.lessons)} lessons to take at your own pace; the first one is a free preview. "
            "This is a demo course: its lessons hold placeholder text."
        )

    @property
    def caption(self) -> str:
        """The English half of the title, drawn on the cover."""
        return self.title.split(" · ")[-1]


MERCHANTS = {
    "demo-studio": (
        "Demo Studio / 演示工作室",
        [
            DemoCourse(
                "python-basics",
                "Python 入门 · Python for Beginners",
                "从零开始写 Python。Write your first programs.",
                9900,
                ("欢迎 · Welcome", "变量与类型 · Variables and types", "函数 · Functions"),
                category="programming",
                hue=0.58,
            ),
            DemoCourse(
                "data-analysis",
                "数据分析实战 · Practical Data Analysis",
                "用 pandas 读懂数据。Read data with pandas.",
                19900,
                ("课程介绍 · Introduction", "数据清洗 · Cleaning data", "可视化 · Charts"),
                category="data",
                hue=0.47,
            ),
            DemoCourse(
                "writing-that-works",
                "高效写作 · Writing That Works",
                "写得清楚，读得轻松。Clear writing, easy reading.",
                4900,
                ("为什么写作 · Why write", "结构 · Structure", "修改 · Editing"),
                category="writing",
                hue=0.04,
            ),
            DemoCourse(
                "intro-ml",
                "机器学习导论 · Intro to Machine Learning",
                "即将推出。Coming soon.",
                29900,
                ("概览 · Overview", "线性模型 · Linear models", "评估 · Evaluation"),
                status=Course.Status.DRAFT,
                category="programming",
                hue=0.75,
            ),
        ],
    ),
    "second-studio": (
        "Second Studio / 第二工作室",
        [
            DemoCourse(
                "photography-basics",
                "摄影基础 · Photography Basics",
                "光线、构图与器材。Light, framing and gear.",
                6900,
                ("相机入门 · Your camera", "光线 · Light", "构图 · Composition"),
                category="photography",
                hue=0.9,
            ),
        ],
    ),
}


@dataclass(frozen=True)
class DemoPlan:
    slug: str
    title: str
    description: str
    period: str
    price: int  # fen
    courses: tuple[str, ...] = ()  # empty: every course of the merchant


# One membership plan per demo merchant: one opens everything, one a chosen course.
PLANS = {
    "demo-studio": DemoPlan(
        "demo-studio-monthly",
        "演示工作室会员 · Demo Studio Membership",
        "每月一付，畅学工作室全部课程（含新课）。All our courses, new ones included, month by month.",
        Plan.Period.MONTH,
        2900,
    ),
    "second-studio": DemoPlan(
        "photography-year-pass",
        "摄影年卡 · Photography Year Pass",
        "一年内畅学摄影基础。A year of Photography Basics.",
        Plan.Period.YEAR,
        4900,
        courses=("photography-basics",),
    ),
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str  # a group in courses.roles, "superuser" or "learner"
    merchant_slug: str | None = None
    sees: str = ""


LOGINS = [
    DemoLogin("admin", "superuser", sees="everything"),
    DemoLogin("merchant", roles.MERCHANT, "demo-studio", "Demo Studio's courses, orders, payments"),
    DemoLogin("merchant2", roles.MERCHANT, "second-studio", "Second Studio's data only"),
    DemoLogin("support", roles.SUPPORT, sees="all orders, payments and courses (read-only)"),
    DemoLogin("finance", roles.FINANCE, sees="orders, payments, journal, balances, payouts, dashboard"),
    DemoLogin("risk", roles.RISK, sees="risk rules, back-tests and the review queue"),
    DemoLogin("learner", "learner", sees="the site, not the admin"),
    DemoLogin(promoter_demo.PROMOTER_USERNAME, "promoter", sees="the site and its promoter page, /promoter/"),
]
SITE_ROLES = ("learner", "promoter")  # no admin: a promoter is a learner of the site


class Command(BaseCommand):
    help = "Create demo merchants, courses and one login per role (development only)."

    def handle(self, *args, **options):
        if settings.KPAY_ENV == "production":
            raise CommandError("seed_demo creates users with known passwords: not in production.")
        roles.sync_roles()
        with transaction.atomic():
            self._categories()
            merchants = {
                slug: self._merchant(slug, name, courses) for slug, (name, courses) in MERCHANTS.items()
            }
            for login in LOGINS:
                self._user(login, merchants)
            self._plans(merchants)
            self._risk_rules()
            promoter = promoter_demo.demo_promoter(merchant=merchants["demo-studio"])
        self._finance(merchants, promoter)
        self._print_logins(merchants)

    def _finance(self, merchants, promoter):
        """Settled orders, statements and payouts, so the finance console has something
        to show (played through settlement's services: :mod:`devtools.settlement_demo`),
        some of the orders referred by the demo promoter."""
        summary = seed_finance_demo(merchant=merchants["demo-studio"], promoter=promoter)
        self.stdout.write(summary)
        self.stdout.write(promoter_demo.summary(promoter))

    def _plans(self, merchants):
        """Each demo merchant's membership plan (as its staff would make it in the admin)."""
        for merchant_slug, demo in PLANS.items():
            plan, _ = Plan.objects.update_or_create(
                slug=demo.slug,
                defaults={
                    "merchant": merchants[merchant_slug],
                    "title": demo.title,
                    "description": demo.description,
                    "period": demo.period,
                    "period_days": None,
                    "price": demo.price,
                    "currency": "CNY",
                    "all_courses": not demo.courses,
                    "is_active": True,
                },
            )
            plan.courses.set(Course.objects.filter(slug__in=demo.courses))

    def _risk_rules(self):
        """Two example rules, so the demo shows risk control at work (the seed seeds the
        whole platform; rules belong to riskcontrol, so they are made through its service)."""
        admin = get_user_model().objects.get(username="admin")
        examples = [
            ("Large order: review", "amount_above", {"amount": 1_000_000}, "review", False),
            (
                "Order bursts: would block",
                "orders_per_learner",
                {"window_minutes": 60, "max_count": 10},
                "block",
                True,
            ),
        ]
        for name, kind, params, action, monitor_only in examples:
            if not Rule.objects.filter(name=name).exists():
                rule_save(
                    rule=Rule(name=name, kind=kind, params=params, action=action, monitor_only=monitor_only),
                    actor=admin,
                )

    def _categories(self):
        for slug, (name, position) in CATEGORIES.items():
            Category.objects.update_or_create(slug=slug, defaults={"name": name, "position": position})

    def _merchant(self, slug, name, courses) -> Merchant:
        merchant, _ = Merchant.objects.update_or_create(slug=slug, defaults={"name": name, "is_active": True})
        for demo in courses:
            course, _ = Course.objects.update_or_create(
                slug=demo.slug,
                defaults={
                    "merchant": merchant,
                    "title": demo.title,
                    "summary": demo.summary,
                    "description": demo.description,
                    "category": Category.objects.get(slug=demo.category) if demo.category else None,
                    "price": demo.price,
                    "currency": "CNY",
                    "status": demo.status,
                },
            )
            self._cover(course, demo)
            for position, title in enumerate(demo.lessons, start=1):
                Lesson.objects.update_or_create(
                    course=course,
                    position=position,
                    defaults={
                        "title": title,
                        "is_preview": position == 1,
                        "body": (
                            f"这是《{demo.title.split(' · ')[0]}》第 {position} 节的演示内容。\n\n"
                            f"This is the demo content of lesson {position} of {demo.caption}: "
                            "a real course would teach something here."
                        ),
                    },
                )
        return merchant

    def _cover(self, course: Course, demo: DemoCourse) -> None:
        """A generated cover (devtools.demo_covers), made once: kept while its file exists."""
        if course.cover and course.cover.storage.exists(course.cover.name):
            return
        image = demo_cover(seed=demo.slug, hue=demo.hue, caption=demo.caption)
        course.cover.save(f"{demo.slug}.jpg", ContentFile(image), save=True)

    def _user(self, login: DemoLogin, merchants: dict[str, Merchant]):
        user, created = get_user_model().objects.get_or_create(username=login.username)
        user.email = f"{login.username}@kpay.localhost"
        user.is_active = True
        user.is_superuser = login.role == "superuser"
        user.is_staff = login.role not in SITE_ROLES
        if created:
            # Only now: a new password hash would end every session of the user
            # (the session keeps a hash of it), and undo a password someone chose.
            user.set_password(DEMO_PASSWORD)
        user.save()
        if login.role in roles.ROLE_PERMISSIONS:
            user.groups.set([Group.objects.get(name=login.role)])
        else:
            user.groups.clear()
        if login.merchant_slug:
            MerchantMember.objects.update_or_create(
                user=user, defaults={"merchant": merchants[login.merchant_slug]}
            )
        else:
            MerchantMember.objects.filter(user=user).delete()

    def _print_logins(self, merchants):
        courses = Course.objects.filter(merchant__in=merchants.values()).count()
        plans = Plan.objects.filter(merchant__in=merchants.values()).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(merchants)} merchants, {courses} courses, {plans} membership plans."
            )
        )
        self.stdout.write(f"Back office: {settings.KPAY_PUBLIC_URL}/admin/  (demo passwords: demo only)")
        self.stdout.write("")
        self.stdout.write(f"  {'username':<10} {'password':<10} {'role':<10} sees")
        for login in LOGINS:
            self.stdout.write(f"  {login.username:<10} {DEMO_PASSWORD:<10} {login.role:<10} {login.sees}")
