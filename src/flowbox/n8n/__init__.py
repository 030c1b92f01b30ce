"""n8n workflow JSON in flowbox (DESIGN §10): detect it, convert it, report what was done.

    data, conversion = accept(data)     # n8n JSON converted; anything else unchanged (conversion None)
    data, conversion = read_workflow_file(path)   # the same for a file (the CLI's, a sub-workflow's)
    conversion.to_json()                # {"mapped": [...], "approximated": [...], "unsupported": [...]}
    n8n_json, report = to_n8n(data)     # flowbox JSON written back as n8n's; report_json(report) as above
"""

from flowbox.n8n.convert import (
    PLACEHOLDER,
    Conversion,
    Entry,
    accept,
    convert,
    is_n8n,
    load_workflow_file,
    read_workflow_file,
    report_json,
)
from flowbox.n8n.export import to_n8n

__all__ = ["PLACEHOLDER", "Conversion", "Entry", "accept", "convert", "is_n8n", "load_workflow_file", "read_workflow_file", "report_json", "to_n8n"]
