// Placeholder until this page is written (issue 16, in progress in this session).
import { Page } from "../components";

export function AnalyticsPage() {
  return <Page title="Analytics">{null}</Page>;
}
