"""Alumio (integration platform): integration tasks, one host per tenant."""

from ._adapter import MAX_IDENTIFIER_LENGTH, STATUS_MAP, AlumioAdapter, encode_identifier
from ._config import AlumioConfig
from ._converter import make_alumio_converter
from ._models import (
    AlumioError,
    AlumioTask,
    AlumioTaskMeta,
    AlumioTaskMetaDataItem,
    AlumioTaskResult,
    AlumioTaskStatus,
    AlumioViolation,
)

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "STATUS_MAP",
    "AlumioAdapter",
    "AlumioConfig",
    "AlumioError",
    "AlumioTask",
    "AlumioTaskMeta",
    "AlumioTaskMetaDataItem",
    "AlumioTaskResult",
    "AlumioTaskStatus",
    "AlumioViolation",
    "encode_identifier",
    "make_alumio_converter",
]
