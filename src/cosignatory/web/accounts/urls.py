"""Signing in, two-factor authentication and the account page (``/accounts/``)."""

from django.urls import path

from cosignatory.web.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("two-factor/", views.two_factor, name="two-factor"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
]
