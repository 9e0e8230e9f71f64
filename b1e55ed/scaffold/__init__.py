"""``python -m b1e55ed new producer|strategy NAME``: a plug-in skeleton that passes its own test and a replay.

``templates`` holds the text of the files, ``new`` writes them (never over an existing file) and prints the next
steps.
"""
