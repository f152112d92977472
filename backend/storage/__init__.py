"""Where the server keeps files: in the database (blobs.py), with a local cache of what must
be a file on disk; `flask storage import-files` moves files of older installations in."""
