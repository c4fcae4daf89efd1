"""``GET /questions`` and ``GET /questions/{name}``: the named diagnostic questions, scoped
to the caller's sponsors exactly like ``/sparql``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from federation.api.deps import StoreDep
from federation.api.roles import CanQuery, record_query
from federation.questions.catalogue import questions
from federation.questions.service import ask
from federation.scope import caller_scope

router = APIRouter(tags=["questions"])


@router.get("/questions", operation_id="list_questions")
def list_questions(caller: CanQuery) -> list[dict[str, Any]]:
    """Every named question: name, title, description, parameters (type, default), evidence."""
    return [q.as_dict() for q in questions().values()]


@router.get("/questions/{name}", operation_id="ask_question")
def ask_question(name: str, request: Request, store: StoreDep,
                 caller: CanQuery) -> dict[str, Any]:
    """Answer one question; query parameters are its parameters (``?reduction=0.2``).

    Rows carry their evidence (IRIs) and the response the bound query, so the answer can be
    reproduced on ``/sparql``. Unknown question: 404; bad or unknown parameter: 400."""
    settings = request.app.state.settings
    values = {key: value for key, value in request.query_params.items()}
    record_query(request, caller, "question", name, {"parameters": values})
    answer = ask(store, caller_scope(store, caller), name, values,
                 timeout_s=settings.sparql_timeout_s, max_results=settings.sparql_max_results)
    return answer.as_dict()
