"""The payments app's own import rules: services never import tasks (they enqueue tasks by
name), nothing below the HTTP layer imports it, and no module of the domain (services,
ledger, tasks, admin, views …) is part of an import cycle. Function-local imports count."""

import grimp
import pytest

DOMAIN = (
    "payments.services",
    "payments.ledger",
    "payments.tasks",
    "payments.receivers",
    "payments.selectors",
    "payments.locks",
    "payments.admin",
    "payments.api",
    "payments.views",
    "payments.webhooks",
    "payments.models",
    "payments.exceptions",
)


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("payments", "orders", "courses", "core")


def domain_modules(graph):
    return sorted(m for m in graph.modules if m.startswith(DOMAIN))


@pytest.mark.parametrize(
    "imported", ["payments.tasks", "payments.admin", "payments.views", "payments.api", "payments.webhooks"]
)
def test_services_and_the_ledger_never_import_tasks_or_the_http_layer(graph, imported):
    for importer in ("payments.services", "payments.ledger"):
        chain = graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True)
        assert not chain, f"{importer} imports {imported}: {chain}"


def test_no_module_of_the_payments_domain_is_in_an_import_cycle(graph):
    modules = domain_modules(graph)
    assert "payments.services.refunds" in modules and "payments.ledger.postings" in modules
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append((module, *back))
    assert not cycles, cycles
