"""Guardrail rules of an account (issue 17): the list, the create/edit form with its preview (a POST with
"preview" re-renders the form with what the rule would have done; with htmx only the preview partial), enable
and disable, and the rule log. Every member reads them; managers write them. The rules are services
(`campaigns.rules.services`), the preview a read (`campaigns.rules.preview`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from ..models import Role, Rule, RuleLogEntry
from ..rules import conditions
from ..rules import services as rule_services
from ..rules.forms import RuleForm
from ..rules.preview import rule_preview
from ..selectors import account_get_for_user, require_role, role_for

LOG_PAGE = 200


def _rule_get(account, rule_pk) -> Rule:
    rule = Rule.objects.filter(account=account, pk=rule_pk).select_related("account").first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _describe(rule: Rule, *, chosen: int | None = None) -> dict:
    return {
        "rule": rule,
        "sentence": conditions.rule_sentence(rule),
        "scope": conditions.scope_text(rule, chosen=chosen),
        "guards": conditions.guards_text(rule),
    }


@login_required
@require_GET
def rule_list(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    role = role_for(user=request.user, account_id=account.pk)
    rules = list(Rule.objects.filter(account=account).select_related("account").prefetch_related("campaigns"))
    return render(
        request,
        "campaigns/rules/rule_list.html",
        {
            "account": account,
            "rows": [_describe(rule, chosen=len(rule.campaigns.all())) for rule in rules],
            "can_manage": role is not None and role.allows(Role.MANAGER),
            "nav_section": "accounts",
        },
    )


def _rule_form_page(request, account, rule: Rule | None):
    require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change rules")
    form = RuleForm(request.POST or None, instance=rule, account=account)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" not in request.POST:
            try:
                if rule is None:
                    rule = rule_services.rule_create(
                        account=account, actor=request.user, values=form.values(), campaign_ids=form.campaign_ids()
                    )
                    messages.success(request, f"Rule “{rule.name}” saved: {conditions.rule_sentence(rule)}.")
                else:
                    changed = rule_services.rule_edit(
                        rule=rule, actor=request.user, values=form.values(), campaign_ids=form.campaign_ids()
                    )
                    messages.success(request, f"Rule “{rule.name}” saved." if changed else "Nothing changed.")
            except rule_services.RuleInvalid as error:
                for field, problem in error.problems.items():
                    form.add_error(field if field in form.fields else None, problem)
            else:
                return redirect("campaigns:rules", pk=account.pk)
        if form.is_valid():
            unsaved = form.rule_unsaved()
            preview = {"result": rule_preview(rule=unsaved, campaign_ids=form.campaign_ids()), **_describe(unsaved)}
    context = {"account": account, "form": form, "rule": rule, "preview": preview, "nav_section": "accounts"}
    if request.htmx and "preview" in request.POST:
        if preview is None:  # the form has errors to show: the whole editor, not only the preview
            response = render(request, "campaigns/rules/rule_form.html#rule-editor", context)
            return retarget(reswap(response, "outerHTML"), "#rule-editor")
        return render(request, "campaigns/rules/rule_form.html#rule-preview", context)
    return render(request, "campaigns/rules/rule_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    return _rule_form_page(request, account, None)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk, rule_pk):
    account = account_get_for_user(user=request.user, pk=pk)
    return _rule_form_page(request, account, _rule_get(account, rule_pk))


@login_required
@require_POST
def rule_enabled(request, pk, rule_pk):
    account = account_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change rules")
    rule = _rule_get(account, rule_pk)
    enabled = request.POST.get("enabled") == "1"
    if rule_services.rule_enabled_set(rule=rule, actor=request.user, enabled=enabled):
        messages.success(request, f"Rule “{rule.name}” {'enabled' if enabled else 'disabled'}.")
    return redirect("campaigns:rules", pk=account.pk)


@login_required
@require_GET
def rule_log(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    entries = (
        RuleLogEntry.objects.filter(rule__account=account)
        .select_related("rule", "campaign", "actor")
        .order_by("-created_at", "-id")[:LOG_PAGE]
    )
    return render(
        request,
        "campaigns/rules/rule_log.html",
        {"account": account, "entries": entries, "log_page": LOG_PAGE, "nav_section": "accounts"},
    )
