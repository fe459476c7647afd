"""The case library: one module per OCTT module (digest §7), each case a readable script.

Every module here is imported by case.load_library(); a module registers its cases with the
@case decorator. Sequences several cases share live in flows.py.
"""
