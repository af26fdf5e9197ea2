"""The OGC API of the twin, served by pygeoapi with providers of ours under /ogc/.

`server` builds pygeoapi's API and mounts it on the dashboard's Flask server; `features`,
`tiles` and `processes` are the pygeoapi plugins that read the twin, the live layers, the
loop and the simulations; `state` holds what they read and who is asking.
"""
