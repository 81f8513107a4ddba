"""What each style-transfer method is, without its networks: the declarations the site reads.

One module per method (:mod:`.magenta`, :mod:`.adain`, :mod:`.gatys`,
:mod:`.trained`), each importing no machine-learning library; the registry in
:mod:`tfapp.engines` lists them and loads their engines where a job runs.
"""
