"""Configuration: the models (models.py, checked by decoding.py on msgspec) and their loading (loading.py); this
package re-exports them so callers write `from handlers.config import Config`."""

from handlers.config.loading import *  # noqa: F403
from handlers.config.models import *  # noqa: F403
