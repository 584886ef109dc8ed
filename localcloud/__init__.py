"""localcloud: a local, protocol-faithful stand-in for Baidu BOS + MCT + CFC.

Never imported by ``handlers/`` (the deployable code).
"""
