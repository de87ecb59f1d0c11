"""Fuzz corpus: damaged DICOM files from real test files, run through the engine and the reader.

``python -m tests.fuzz`` runs the full corpus and prints its table (``scripts/fuzz.sh`` sets up
first); ``tests/test_fuzz_quick.py`` runs about 150 cases of it in the test suite.
"""
