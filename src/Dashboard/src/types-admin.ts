// The shapes of the credential, team, pricing and digest routes (product.md §5 and §8, team-spec.md). Only what the
// credentials, team and settings pages read.
import type { Role } from "./types";

export interface Credential {
  id: string;
  provider: string;
  label: string | null;
  status: "active" | "disabled";
  keyPreview: string;
  config: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialTestResult { ok: boolean; latencyMs: number; providerStatus: number | null; message: string }

export interface Member { userId: string; email: string; name: string | null; role: Role; joinedAt: string }

export interface Invite {
  id: string;
  email: string;
  role: Role;
  status: "pending" | "expired" | "accepted" | "cancelled";
  expiresAt: string;
  createdAt: string;
  invitedBy: { userId: string; email: string; name: string | null } | null;
}

/** What creating or resending an invite answers: the only time the link (with its token) is shown. */
export interface IssuedInvite { invite: Invite; inviteUrl: string; emailDelivery: "queued" | "skipped" | string }

export interface AuditEvent {
  id: string;
  workspaceId: string;
  event: string;
  actorType: "user" | "api_key" | "system" | string;
  actorId: string;
  target: string | null;
  at: string;
  clientAddress: string | null;
  details: Record<string, string | null>;
  changes: Record<string, { before: string | null; after: string | null }> | null;
}

export interface AuditPage { data: AuditEvent[]; nextCursor: string | null }

/** A negotiated price, USD per 1M tokens. */
export interface ModelPrice {
  provider: string;
  model: string;
  input: number;
  output: number;
  cachedInput?: number | null;
  cacheWrite?: number | null;
  source?: string | null;
  asOf?: string | null;
}

export interface DigestLeader { id: string; name: string; costUsd: number; requests: number }

export interface DigestBudgetWarning {
  projectId: string; projectName: string; spentUsd: number;
  monthlyBudgetUsd: number | null; monthlyBudgetUsedPercent: number | null; dailyBudgetUsd: number | null;
  daysAtDailyLimit: number; blockedRequests: number; message: string;
}

export interface MonthlyDigest {
  workspaceId: string; workspaceName: string; month: string; from: string; to: string;
  totalSpendUsd: number; totalRequests: number; blockedRequests: number; realizedSavingsUsd: number;
  topProvider: DigestLeader | null; topModel: DigestLeader | null; topProject: DigestLeader | null;
  budgetWarnings: DigestBudgetWarning[]; recommendedAction: string; generatedAt: string;
  emailDelivery: "sent" | "skipped" | "failed" | string;
}

/** Every audit event name the API accepts as a filter (AuditEvents.All). */
export const auditEvents = [
  "workspace_created", "workspace_updated", "workspace_deleted",
  "member_invited", "invite_resent", "invite_accepted", "invite_cancelled", "member_role_changed", "member_removed",
  "project_created", "project_updated", "budget_changed", "key_regenerated", "project_deactivated", "project_activated",
  "pricing_changed",
  "credential_created", "credential_updated", "credential_rotated", "credential_disabled", "credential_enabled",
  "credential_deleted", "credential_tested",
  "export_downloaded", "digest_sent", "budget_alert",
] as const;
