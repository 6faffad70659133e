"""``hazard serve``: the inspectors' web app and the JSON HTTP API (FastAPI), a thin layer over ``engine.service``.

- ``app.py``: ``create_app(catalog_dir=None)``, request size limit, Chinese JSON errors, offline ``/docs``;
- ``api.py``: the ``/api/v1`` routes;
- ``pages.py``: the server-rendered pages (templates in ``reports/web/``, CSS/JS in ``engine/web/static/``);
- ``formstate.py``: the checklist being filled, between browser form fields and the checklist JSON.
"""
