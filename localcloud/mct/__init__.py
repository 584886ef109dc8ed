"""localcloud MCT: a local, protocol-faithful Baidu MCT v3 service (wire, state, scheduler, notifier) + ffmpeg engine.

Layout (moto style): ``urls.py``/``responses.py`` translate HTTP <-> calls on ``models.MctBackend`` (state and
rules, persisted by ``store.py``), service errors live in ``exceptions.py``; ``scheduler.py`` runs jobs through
``localcloud.mct.engine``; ``notifier.py`` POSTs completion callbacks; ``service.MctService`` wires it all up.
"""
