// Smoke scenario for @elizaos/plugin-twitter: the service starts with
// placeholder credentials, then a mention goes through the connector's own
// interaction client (processMentionTweets -> world/room writes with
// ensureWorldExists / ensureRoomExists / ensureConnection -> handleTweet into
// the core's model calls, answered offline).
//
// No token, no network: twitter-api-v2 is loaded for real, but its single
// request funnel (ClientRequestMaker.send) is replaced by a fake Twitter API.
// TWITTER_DRY_RUN keeps the connector from posting anything.
//
// plugin-twitter 1.2.22 still passes `serverId` and never reads it back: on
// core >= 1.6.5 the drop would be silent, so the scenario fails with `data loss: server
// id ...` when the stored world lost it.

import { createRequire } from "node:module";
import path from "node:path";
import { runScenario, createRuntime, registerConnector, describeRoom, check, checkServerIdKept } from "./runtime.mjs";

const CONNECTOR = process.env.CANARY_CONNECTOR || "@elizaos/plugin-twitter";

const BOT = { id: "900000000000000001", username: "canary_bot", name: "Canary" };
const ALICE = { id: "900000000000000002", username: "alice", name: "Alice" };
const TWEET_ID = "1900000000000000001";

// The fake Twitter API v2: (method, path) -> JSON body.
function fakeTwitterApi(calls) {
  return async function send(params) {
    const url = new URL(params.url);
    const route = `${params.method} ${url.pathname}`;
    calls.push(route);
    if (route.endsWith("/2/users/me")) return { data: { data: BOT }, headers: {}, rateLimit: undefined };
    // Any search or timeline read: nothing new (the scenario hands the mention in itself).
    return { data: { data: [], meta: { result_count: 0 } }, headers: {}, rateLimit: undefined };
  };
}

await runScenario(`twitter mention (${CONNECTOR})`, CONNECTOR, async (stack, keep) => {
  const req = createRequire(path.join(stack.connectorDir, "package.json"));
  const { ClientRequestMaker } = req("twitter-api-v2/dist/cjs/client-mixins/request-maker.mixin.js");
  const calls = [];
  ClientRequestMaker.prototype.send = fakeTwitterApi(calls);

  const runtime = keep(
    await createRuntime(stack, {
      secrets: {
        TWITTER_API_KEY: "canary-offline",
        TWITTER_API_SECRET_KEY: "canary-offline",
        TWITTER_ACCESS_TOKEN: "canary-offline",
        TWITTER_ACCESS_TOKEN_SECRET: "canary-offline",
        TWITTER_DRY_RUN: "true",
        TWITTER_ENABLE_POST: "false",
        TWITTER_ENABLE_REPLIES: "true",
        TWITTER_ENABLE_ACTIONS: "false",
        TWITTER_ENABLE_DISCOVERY: "false",
      },
    }),
  );
  const service = await registerConnector(runtime, stack.plugin, "twitter");
  const interaction = service?.twitterClient?.interaction;
  check(interaction, "the twitter service started without an interaction client");

  const now = new Date();
  const tweet = {
    id: TWEET_ID,
    text: `@${BOT.username} hello from the canary`,
    timestamp: now.getTime(),
    timeParsed: now,
    userId: ALICE.id,
    name: ALICE.name,
    username: ALICE.username,
    conversationId: TWEET_ID,
    hashtags: [],
    mentions: [{ id: BOT.id, username: BOT.username, name: BOT.name }],
    photos: [],
    thread: [],
    urls: [],
    videos: [],
    isRetweet: false,
    isReply: false,
    isQuoted: false,
    permanentUrl: `https://twitter.invalid/${ALICE.username}/status/${TWEET_ID}`,
  };

  // Connector code that writes the world, the room and the connection.
  await interaction.processMentionTweets([tweet]);
  console.log(`[scenario] fake Twitter API calls: ${JSON.stringify(calls)}`);

  const { createUniqueUuid } = stack.core;
  const roomId = createUniqueUuid(runtime, TWEET_ID);
  const stored = await describeRoom(runtime, roomId, ALICE.id);
  check(stored.room, `the connector stored no room for conversation ${TWEET_ID}`);
  check(stored.world, `the connector stored no world for user ${ALICE.id}`);

  // Connector code that reads them back: a second pass must find its stored tweet.
  await interaction.processMentionTweets([tweet]);
  checkServerIdKept(stored, ALICE.id);
  return runtime;
});
