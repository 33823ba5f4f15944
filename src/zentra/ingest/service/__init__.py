"""Settlement file uploads and movement imports: the ingest use cases.

Both are replay-safe; nothing here commits (the caller's unit of work does). ``files`` stores and
parses settlement files; ``movements`` imports internal movements.
"""

from zentra.ingest.service.files import (
    STATUS_PARSED,
    STATUS_REFUSED,
    UNKNOWN_FORMAT,
    UploadResult,
    get_settlement_file,
    list_settlement_file_records,
    list_settlement_files,
    upload_settlement_file,
)
from zentra.ingest.service.movements import (
    ImportResult,
    MovementRejection,
    import_movement_rows,
    import_movements,
    list_movements,
)

__all__ = [
    "STATUS_PARSED",
    "STATUS_REFUSED",
    "UNKNOWN_FORMAT",
    "ImportResult",
    "MovementRejection",
    "UploadResult",
    "get_settlement_file",
    "import_movement_rows",
    "import_movements",
    "list_movements",
    "list_settlement_file_records",
    "list_settlement_files",
    "upload_settlement_file",
]
