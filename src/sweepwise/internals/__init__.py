"""Every use sweepwise makes of another library's private API, one module per library, each guarded by a test
that runs the library's public path and ours on the same input and compares all they produce
(`tests/test_<module>.py`).

These are the only modules allowed to import a library's private modules or names, or to touch its private
attributes (`lint-imports` and ruff's private-access rules check it); everything else imports from here.
"""
