from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cosignatory.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"
