from django.urls import include, path, re_path

from web import health, views

web_patterns = ([
    path("", views.home, name="home"),
    path("session/idle-check", views.idle_check, name="idle_check"),
    path("static-baseline", views.static_baseline, name="static_baseline"),
    path("health", health.health_view, name="health"),
    path("session/cli-assertion", views.cli_assertion, name="cli_assertion"),
    path("notes/seen", views.notes_seen, name="notes_seen"),
    path("admin/sessions/", views.sessions, name="sessions"),
    path("admin/sessions/<int:pk>/revoke", views.revoke_session, name="revoke_session"),
    path("enrol/<str:token>", views.enrol, name="enrol"),
    path("clinician/psychotherapy/", include("web.pages.psychotherapy")),
    path("clinician/", include("web.pages.clinician")),
    path("front-desk/", include("web.pages.frontdesk")),
    path("privacy/", include("web.pages.privacy")),
    path("audit/", include("web.pages.auditor")),
    path("my/", include("web.pages.portal")),
    path("supervision/", include("web.pages.supervision")),
], "web")

urlpatterns = [
    # Before allauth's: no reset by email (accounts have none); a new enrolment link instead.
    re_path(r"^accounts/password/reset/", views.password_reset, name="password_reset_by_admin"),
    path("accounts/", include("allauth.urls")),
    path("", include(web_patterns)),
]
