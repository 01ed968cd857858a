"""Every route of the transcription service, mounted by the console and by the standalone server.

One list so ``parley serve`` and ``parley transcription serve`` can never disagree about
which endpoints exist.
"""

from __future__ import annotations

from fastapi import APIRouter

from transcription import openai_api, ops, twilio, views

router = APIRouter()
router.include_router(views.router)
router.include_router(openai_api.router)
router.include_router(ops.router)
router.include_router(twilio.router)
