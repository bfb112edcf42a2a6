// A Temporal client from the one config loader (env vars / temporal.toml profiles).
import { Client, Connection } from '@temporalio/client';
import { loadRuntimeConfig } from '../lib/runtime-config';
import type { ScheduleTarget } from '../lib/schedules';

export async function connectFromEnvironment(): Promise<ScheduleTarget & { close(): Promise<void> }> {
  const config = loadRuntimeConfig();
  const connection = await Connection.connect(config.temporal.connectionOptions);
  const client = new Client({ connection, namespace: config.temporal.namespace ?? 'default' });
  return { client, taskQueue: config.taskQueue, close: () => connection.close() };
}
