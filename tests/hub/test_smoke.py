from providers import Agent


async def test_health_and_openapi(hub):
    response = await hub.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    response = await hub.client.get("/v1/openapi.json")
    document = await response.json()
    assert "/v1/escalations" in document["paths"]


async def test_escalate_and_agent_joins(hub):
    chatbot = hub.chatbot
    answer = await chatbot.escalate(inquiry="My order is late", user={"name": "Jo"})
    assert answer["status"] == "queued"
    cid = answer["conversationId"]
    await hub.provider().context.agent_joined(cid, Agent("a1", "Ana"))
    actions = await chatbot.actions(cid)
    assert actions[-1][0] == "setExternalInfo"
    assert actions[-1][1]["hub"]["status"] == "assigned"
