import { Template } from '@huggingface/jinja';
import { fail } from '../errors.js';

/** A model's chat template (tokenizer_config.json "chat_template"), rendered with @huggingface/jinja. */
export class ChatTemplate {
  private readonly template: Template;
  constructor(
    readonly source: string,
    private readonly specials: Record<string, string>,
    where: string,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      fail(`chat template does not parse: ${(e as Error).message}`, where);
    }
  }

  /** The text the model sees for one user turn, ready for the assistant's reply. */
  renderUser(content: string): string {
    return this.template.render({
      messages: [{ role: 'user', content }],
      add_generation_prompt: true,
      ...this.specials,
    });
  }
}
