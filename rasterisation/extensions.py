"""Flask extensions, created unbound and attached to an app by ``create_app`` (init_app).

The naming convention gives every constraint a deterministic name, which Alembic needs to
drop or alter constraints later (and SQLite's batch mode needs at all).
"""
from __future__ import annotations

from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from rasterisation.converters import UUIDConverter, uuid_param_schema
from rasterisation.errors import Api

__all__ = ["db", "migrate", "api", "cors", "NAMING_CONVENTION"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# expire_on_commit=False: the masks endpoint commits cache rows one by one as it computes
# them; expiring every loaded object at each commit reloaded the image and the rows (one
# SELECT each) on next access. Rows here are only read within the request that loaded them.
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()
# once, here: Api keeps a list that every init_app replays into the new spec
api.register_converter(UUIDConverter, uuid_param_schema)
cors = CORS()
