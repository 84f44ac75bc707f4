"""The sub-commands of the ``striate`` command line, one module each."""
