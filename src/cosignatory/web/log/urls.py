"""``/log/``: the public contract of DESIGN.md (C2SP tlog-tiles paths)."""

from django.urls import path

from cosignatory.web.log import views

app_name = "log"
urlpatterns = [
    path("checkpoint", views.checkpoint, name="checkpoint"),
    path("vkey", views.vkey, name="vkey"),
    path("vkeys", views.vkeys, name="vkeys"),
    path("tile/<path:tile_path>", views.tile, name="tile"),
]
