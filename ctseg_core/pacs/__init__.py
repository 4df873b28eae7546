"""The hospital's image archive: query, retrieve, send (DICOMweb and DIMSE) and a receiving node.

Qt-free; ``ctseg pacs`` and the viewer's Query archive dialog sit on the same API::

    from ctseg_core.pacs.connect import open_archive
    from ctseg_core.pacs.query import Query
    from ctseg_core.pacs.retrieve import retrieve
    from ctseg_core.pacs.servers import parse_server

    archive = open_archive(parse_server("http://localhost:8042/dicom-web"))
    studies = archive.find_studies(Query(patient_id="PHANTOM-0"))
    retrieve(archive, studies[0].study_uid)          # into the managed folder, then the cohort database

Modules: :mod:`~.servers` (settings, parsing SERVER), :mod:`~.archive` (the interface), :mod:`~.connect` (opening one),
:mod:`~.dicomweb` and :mod:`~.dimse` (the transports), :mod:`~.dimse_storage` (receiving C-STORE),
:mod:`~.query` (criteria and matches), :mod:`~.store` (the managed folder), :mod:`~.retrieve`,
:mod:`~.send`, :mod:`~.receiver` (the C-STORE SCP), :mod:`~.errors`.
"""
