import type { FastifyReply } from 'fastify';
import { stringifyExact } from '../core/json.js';
import { PROBLEM_TYPE, retryAfterSeconds, type Problem } from './problem.js';

/** Sends JSON exactly (bigints as integers), never through fastify's serializer. */
export function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(stringifyExact(body));
}

export function sendProblem(reply: FastifyReply, answer: Problem): FastifyReply {
  if (answer.status === 503) reply.header('retry-after', String(retryAfterSeconds(answer.code)));
  return reply.code(answer.status).type(`${PROBLEM_TYPE}; charset=utf-8`).send(JSON.stringify(answer));
}

