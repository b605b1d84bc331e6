/**
 * The `azure` adapter: Azure OpenAI. The wire format is OpenAI's Chat Completions; what differs is
 * where a call goes (`{baseUrl}/openai/deployments/{deployment}/chat/completions?api-version=…`,
 * the deployment being the model after the provider's `modelMap`) and the `api-key` header.
 */
import { OpenAIAdapter } from './openai.js';

/** The Azure OpenAI data-plane API version used when `options.apiVersion` is not set (the latest GA one). */
export const AZURE_API_VERSION = '2024-10-21';

export class AzureAdapter extends OpenAIAdapter {
  protected override endpoint(deployment: string): string {
    const version = (this.config.options.apiVersion as string | undefined) ?? AZURE_API_VERSION;
    return `${this.base}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${encodeURIComponent(version)}`;
  }

  protected override auth(apiKey: string | null): Record<string, string> {
    return apiKey ? { 'api-key': apiKey } : {};
  }
}
